"""The VAE's fitted prior: a mixture of Gaussians fitted to the training codes, where samples' codes come from."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from genstudio import data as data_sets
from genstudio.config import Experiment, default_experiment
from genstudio.engine.explorer import Replica
from genstudio.engine.requests import EncodeHeldOut
from genstudio.engine.trainer import Cadence, Trainer
from genstudio.models import build_model
from genstudio.models.vae import PRIOR_CODES, PRIOR_ITERATIONS, PRIOR_ITERATIONS_AT_ONCE, FittedPrior


def _two_clusters(n=PRIOR_CODES, d=3, seed=0):
    """Codes in two tight clusters at +-4 on the first axis (class 0 at +4): N(0, I) puts most of its
    mass in the hole between them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    codes = 0.3 * torch.randn(n, d, generator=g)
    codes[:, 0] += torch.where(labels == 0, 4.0, -4.0)
    return codes, labels


def test_before_any_fit_the_prior_is_the_standard_normal():
    prior = FittedPrior(1, 3)
    noise = torch.randn(50, 4)
    torch.testing.assert_close(prior.codes(noise, None), noise[:, 1:])


def test_the_fit_follows_the_codes_and_skips_the_hole_between_them():
    codes, _ = _two_clusters()
    prior = FittedPrior(1, 3)
    prior.keep(codes, None)
    prior.refit()
    drawn = prior.codes(torch.randn(4000, 4, generator=torch.Generator().manual_seed(1)), None)
    assert (drawn[:, 0].abs() < 2).float().mean() < 0.01            # N(0, I): 95% of its codes
    assert (drawn[:, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.05)
    torch.testing.assert_close(drawn[:, 1:].std(0), torch.full((2,), 0.3), atol=0.03, rtol=0)
    # the same noise keeps its code (a snapshot's fixed noise shows the same examples as training goes)
    noise = torch.randn(8, 4)
    torch.testing.assert_close(prior.codes(noise, None), prior.codes(noise, None))


def test_a_conditional_prior_fits_each_class_to_its_own_codes():
    codes, labels = _two_clusters()
    prior = FittedPrior(2, 3)
    prior.keep(codes, labels)
    prior.refit()
    asked = torch.arange(1000) % 2
    drawn = prior.codes(torch.randn(1000, 4), asked)
    assert ((drawn[:, 0] > 0) == (asked == 0)).all()


def test_the_ring_keeps_the_latest_codes():
    prior = FittedPrior(1, 2)
    n = PRIOR_CODES
    first = torch.arange(2 * n * 3 // 4, dtype=torch.float32).view(-1, 2)       # fills 3/4 of the ring
    second = first[: n // 2] + 1e5                                              # a quarter fits, a quarter wraps
    prior.keep(first, None)
    prior.keep(second, None)
    newest = torch.cat([second[n // 4:], first[n // 4:], second[: n // 4]])
    torch.testing.assert_close(prior.kept, newest)


def test_fits_come_as_codes_double_and_loaded_weights_wait_for_codes_of_their_own():
    codes, _ = _two_clusters()
    prior = FittedPrior(1, 3)
    prior.keep(codes[:100], None)
    prior.refit()                                                    # too few codes yet: still N(0, I)
    assert not prior.means.any()
    prior.keep(codes, None)
    prior.refit()
    means = prior.means.clone()
    prior.keep(codes[:128] + 1.0, None)
    prior.refit()                                                    # not due until the codes seen double
    torch.testing.assert_close(prior.means, means)
    prior.keep(codes + 1.0, None)
    prior.refit()
    overall = (prior.log_weights.exp()[..., None] * prior.means).sum((0, 1))   # EM keeps the codes' mean
    torch.testing.assert_close(overall, (codes + 1.0).mean(0), atol=1e-3, rtol=0)
    state = {k: v.clone() for k, v in prior.state_dict().items()}
    assert "kept" not in state                                       # the ring of codes is not saved
    prior.load_state_dict(state)
    prior.keep(codes[:100] - 5.0, None)
    prior.refit()                                                    # the ring holds another state's codes
    torch.testing.assert_close(prior.means, state["means"])


def test_a_fit_runs_a_few_iterations_per_sampling_call_and_ends_as_a_whole_fit_would():
    codes, _ = _two_clusters()
    whole, pieces = FittedPrior(1, 3), FittedPrior(1, 3)
    for prior in (whole, pieces):
        prior.keep(codes, None)
    whole.refit()
    noise = torch.randn(10, 4, generator=torch.Generator().manual_seed(0))
    for _ in range(PRIOR_ITERATIONS // PRIOR_ITERATIONS_AT_ONCE - 1):
        torch.testing.assert_close(pieces.codes(noise, None), noise[:, 1:])   # N(0, I) until the fit ends
    pieces.keep(codes + 100.0, None)   # codes kept meanwhile wait for the next fit
    pieces.codes(noise, None)
    for name in ("log_weights", "means", "scale_tril"):
        torch.testing.assert_close(getattr(pieces, name), getattr(whole, name))


def test_a_vae_samples_through_its_fitted_prior_and_the_trainer_keeps_it_fitted():
    exp = default_experiment("vae", "digits", seconds=3, threads=1)
    trainer = Trainer(exp, Cadence(snapshot_s=0.2, eval_s=None, evaluate_at_end=False))
    for _ in trainer.run():
        pass
    model = trainer.model
    assert exp.family.prior == "fitted" and model.prior.means.any(1).all()   # every class's mixture fitted
    noise = model.make_noise(20, torch.Generator().manual_seed(0))
    labels = model.sample_labels(20)
    assert noise.shape == (20, exp.family.latent_dim + 1)
    model.prior.refit()   # a fit under way ends now (else the next two calls could each run part of it)
    want = model.decode_mean(model.prior.codes(noise, labels), labels)
    torch.testing.assert_close(model.sample(noise, labels), want)
    # the best step's state keeps the mixture fitted then; restoring it brings that mixture back
    with trainer.best_weights() as step:
        if step != trainer.step:
            assert torch.equal(model.prior.means, trainer.best_state.tensors["model.prior.means"])


def test_a_normal_prior_has_no_mixture_and_files_from_before_it_open_normal():
    exp = default_experiment("vae", "digits")
    normal = dataclasses.replace(exp, family=dataclasses.replace(exp.family, prior="normal"))
    model = build_model(normal, data_sets.load("digits"))
    assert not hasattr(model, "prior")
    noise = model.make_noise(4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.sample(noise), model.decode_mean(noise))
    old = exp.to_dict()
    old["family"].pop("prior")
    assert Experiment.from_dict(old).family.prior == "normal"


def test_the_latent_map_gets_the_prior_in_its_own_plane():
    exp = default_experiment("vae", "digits", seconds=2, threads=1)
    exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, latent_dim=6, condition="none"))
    trainer = Trainer(exp, Cadence(snapshot_s=0.2, eval_s=None, evaluate_at_end=False))
    for _ in trainer.run():
        pass
    replica = Replica(exp, trainer.dataset)
    replica.load(trainer.weights())
    answer = list(replica.answer(EncodeHeldOut()))[-1].values
    weights, means, covs = (t.numpy() for t in trainer.model.prior_gaussians())
    axes, origin = answer["axes"], answer["origin"]
    np.testing.assert_allclose(answer["prior"]["weights"], weights, rtol=1e-5)
    np.testing.assert_allclose(answer["prior"]["centres"], (means - origin) @ axes.T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(answer["prior"]["covs"], axes @ covs @ axes.T, rtol=1e-4, atol=1e-5)
    assert answer["prior"]["centres"].shape == (1, 10, 2)
