"""Class-conditional diffusion, classifier-free guidance and flow matching: what reaches the network,
what the samplers compute, and what the evaluator and the explorer report."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from genstudio import data as data_sets
from genstudio.config import ConfigError, DiffusionConfig, Experiment, default_experiment
from genstudio.engine.events import Weights
from genstudio.engine.explorer import Replica, path_straightness
from genstudio.engine.requests import Denoise, ExplorerError, Generate, Schedules
from genstudio.engine.trainer import Cadence, Trainer
from genstudio.models import build_model
from genstudio.models.diffusion import FlowScheduler, HeunScheduler, transport_pairs


def _model(data="digits", **knobs):
    exp = default_experiment("diffusion", data)
    exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, width=8, **knobs))
    torch.manual_seed(0)
    return build_model(exp, data_sets.load(exp.data)).eval()


def _randomised(model):
    """Untrained class vectors start alike; spread them so that the class matters."""
    with torch.no_grad():
        model.net.label.weight.normal_(0, 1)
    return model


def test_labelled_data_makes_a_conditional_model_and_unlabelled_data_does_not():
    assert _model().classes == 10
    assert _model(condition="none").classes == 0
    assert _model("ring8").classes == 0
    with pytest.raises(ConfigError, match="labels"):
        _model("ring8", condition="class")


def test_the_asked_class_reaches_the_network():
    model = _randomised(_model())
    x = torch.randn(4, 1, 8, 8)
    out = {c: model.predict(x, 500, torch.full((4,), c)) for c in range(3)}
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])
    torch.testing.assert_close(model.predict(x, 500, torch.full((4,), 1)), out[1])


def test_guidance_zero_is_unconditional_one_is_conditional_and_between_extrapolates():
    model = _randomised(_model())
    x, labels = torch.randn(6, 1, 8, 8), torch.arange(6) % 10
    ts = torch.full((6,), 300)
    net = model.ema.module
    conditional, unconditional = net(x, ts, labels), net(x, ts, torch.full((6,), 10))
    torch.testing.assert_close(model.predict(x, 300, labels, guidance=0.0), unconditional)
    torch.testing.assert_close(model.predict(x, 300, labels, guidance=1.0), conditional)
    torch.testing.assert_close(model.predict(x, 300, labels, guidance=3.0),
                               unconditional + 3.0 * (conditional - unconditional), atol=1e-5, rtol=1e-5)
    # without labels the network sees the "no class" vector
    torch.testing.assert_close(net(x, ts), unconditional)


def test_label_dropout_hides_labels_at_its_rate():
    model = _model(label_dropout=0.3)
    y = torch.randint(0, 10, (20000,))
    dropped = model.drop_labels(y, torch.Generator().manual_seed(0))
    hidden = dropped == 10
    assert abs(float(hidden.float().mean()) - 0.3) < 0.015
    assert torch.equal(dropped[~hidden], y[~hidden])
    assert not (_model(label_dropout=0.0).drop_labels(y) == 10).any()


def test_training_draws_each_example_with_its_own_label():
    exp = dataclasses.replace(default_experiment("diffusion", "digits", steps=1), threads=1)
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False, held_out_s=None))
    x, y = trainer.draw()
    ds = trainer.dataset
    for image, label in zip(x[:20], y[:20]):
        index = int(np.argmin(np.abs(ds.x * 2 - 1 - image.numpy()).reshape(len(ds.x), -1).sum(1)))
        assert ds.labels[index] == int(label)


def test_flow_matching_target_path_and_euler_step_match_their_definitions():
    model = _model(objective="flow", sampler="euler", timesteps=10)
    x0, noise = torch.full((1, 1, 8, 8), 0.5), torch.full((1, 1, 8, 8), -1.0)
    t = torch.tensor([4])                            # s = (4 + 1) / 10 = 0.5
    torch.testing.assert_close(model.add_noise(x0, noise, t), torch.full((1, 1, 8, 8), -0.25))
    torch.testing.assert_close(model.target(x0, noise), torch.full((1, 1, 8, 8), -1.5))
    sched = FlowScheduler(10)
    x_t = model.add_noise(x0, noise, t)
    # the exact velocity carries x_t to the next level's point on the same line, and predicts x0 exactly
    out = sched.step(model.target(x0, noise), 4, x_t, prev_t=1)
    torch.testing.assert_close(out.prev_sample, model.add_noise(x0, noise, torch.tensor([1])))
    torch.testing.assert_close(out.pred_original_sample, x0)
    assert float(sched.step(torch.zeros(1), 9, torch.ones(1), prev_t=-1).prev_sample) == 1.0
    assert model.mixture(4) == (0.5, 0.5)


def test_the_schedule_page_draws_a_flow_run_as_its_straight_path():
    exp = default_experiment("diffusion", "digits")
    exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, width=8, objective="flow", sampler="euler",
                                                             timesteps=10))
    replica = Replica(exp, data_sets.load(exp.data))
    replica.step = 0
    answer = list(replica.answer(Schedules()))[-1].values
    assert answer["current"] == "flow"
    s = np.arange(1, 11) / 10                        # the level of t = 0..9
    flow = answer["schedules"]["flow"]
    np.testing.assert_allclose(flow["snr"][:-1], ((1 - s) / s)[:-1] ** 2)   # the last level is pure noise
    assert flow["alpha_bar"][-1] == 0 and flow["alpha_bar"][0] == pytest.approx(0.81 / 0.82)
    assert set(answer["schedules"]) == {"linear", "cosine", "flow"}


def test_heun_calls_the_network_twice_a_step_but_once_on_the_last():
    model = _model(objective="flow", sampler="heun")
    calls = []
    real = model.ema.module.forward
    model.ema.module.forward = lambda *args: calls.append(1) or real(*args)
    steps = list(model.denoise(torch.randn(2, 1, 8, 8), model.scheduler("heun", 5), guidance=1.0))
    assert len(steps) == 5 and len(calls) == 2 * 5 - 1
    assert isinstance(model.scheduler("heun", 5), HeunScheduler)


def test_the_same_noise_with_another_class_reuses_the_first_unconditional_pass_until_new_weights():
    """A class picked denoises the same noise again: the first step's pass with no class is the last
    trajectory's (one network pass instead of two), and what comes out equals a trajectory computed
    afresh; new weights compute it again."""
    exp = default_experiment("diffusion", "digits")
    exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, width=8))
    replica = Replica(exp, data_sets.load(exp.data))
    _randomised(replica.model)
    weights = Weights(1, 0.0, {k: v.numpy().copy() for k, v in replica.model.state_dict().items()})
    replica.load(weights)
    calls = []
    real = replica.model.ema.module.forward
    replica.model.ema.module.forward = lambda *args: calls.append(args[1][0].item()) or real(*args)
    first_t = int(replica.model.scheduler("ddim", 4).timesteps[0])

    def trajectory(label):
        calls.clear()
        answer = [a for a in replica.answer(Denoise("d", sampler="ddim", steps=4, count=6, seed=3, label=label,
                                                    guidance=2.0)) if a is not None]
        return np.concatenate([a.values["frames"] for a in answer]), calls.count(first_t)

    _, first_passes = trajectory(3)
    assert first_passes == 2
    kept, first_passes = trajectory(5)
    assert first_passes == 1                   # the class's own pass; no class's is kept
    replica.load(weights)
    afresh, first_passes = trajectory(5)
    assert first_passes == 2
    np.testing.assert_array_equal(kept, afresh)
    assert trajectory(3)[1] == 1 and trajectory(-1)[1] == 1


def test_a_new_objective_brings_its_sampler_and_a_wrong_pair_is_refused():
    base = default_experiment("diffusion", "digits").family
    assert DiffusionConfig.from_strings({"objective": "flow"}, base=base).sampler == "euler"
    assert DiffusionConfig.from_strings({"objective": "flow", "sampler": "heun"}, base=base).sampler == "heun"
    with pytest.raises(ConfigError, match="flow objective samples with euler or heun"):
        DiffusionConfig(objective="flow", sampler="ddpm")


def test_files_from_before_the_condition_knob_open_unconditional():
    exp = default_experiment("diffusion", "digits")
    old = exp.to_dict()
    for key in ("condition", "label_dropout", "guidance", "objective"):
        del old["family"][key]
    assert Experiment.from_dict(old).family.condition == "none"
    assert Experiment.from_dict(exp.to_dict()).family.condition == "auto"


def test_class_accuracy_is_the_share_of_samples_the_classifier_puts_in_the_asked_class():
    exp = dataclasses.replace(default_experiment("diffusion", "digits", steps=1), threads=1)
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False, held_out_s=None))
    ev = trainer.evaluator
    from genstudio.engine.classifier import features_and_probs
    real = ev.ds.held_out[:100]
    labels = ev.ds.held_out_labels[:100]
    predicted = features_and_probs(ev.classifier, real)[1].argmax(1)
    assert ev.score(real, labels)["class_accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert ev.score(real, (labels + 1) % 10)["class_accuracy"] == pytest.approx(np.mean(predicted == (labels + 1) % 10))
    assert "class_accuracy" not in ev.score(real)


def test_the_classifier_trains_on_first_use_even_where_gradients_are_off(tmp_path, monkeypatch):
    """The explorer scores samples in inference mode; a classifier not yet cached trains there too."""
    from genstudio.engine.classifier import features_and_probs, load_classifier
    monkeypatch.setenv("GENSTUDIO_CACHE", str(tmp_path))
    ds = data_sets.load("digits")
    with torch.inference_mode():
        classifier = load_classifier(ds)
    predicted = features_and_probs(classifier, ds.held_out)[1].argmax(1)
    assert np.mean(predicted == ds.held_out_labels) > 0.9
    assert list(tmp_path.glob("classifier-*.safetensors"))


def test_snapshots_show_a_row_per_class_and_say_which():
    exp = dataclasses.replace(default_experiment("diffusion", "digits", steps=1), threads=1)
    snap = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False, held_out_s=None)).snapshot()
    assert len(snap.samples) == 80
    assert np.array_equal(snap.labels, np.repeat(np.arange(10), 8))


def test_path_straightness_is_length_over_distance():
    straight = np.stack([np.zeros((3, 2)), np.ones((3, 2)), 2 * np.ones((3, 2))])
    assert path_straightness(straight) == pytest.approx(1.0)
    corner = np.array([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert path_straightness(corner) == pytest.approx(2 / np.sqrt(2))


def test_transport_pairs_meet_nearby_noise_and_use_each_draw_about_once():
    torch.manual_seed(0)
    x0, noise = torch.randn(256, 2) * 1.5, torch.randn(256, 2)
    counts = torch.zeros(256)
    for _ in range(40):
        pairs = transport_pairs(x0, noise)
        counts += torch.bincount(pairs, minlength=256)
    # every noise draw is someone's partner about as often (the noise stays Gaussian) ...
    assert counts.min() > 0.3 * 40 and counts.max() < 2.5 * 40
    # ... and the pairs are far nearer than independent ones
    assert ((x0 - noise[pairs]) ** 2).sum(1).mean() < 0.5 * ((x0 - noise) ** 2).sum(1).mean()


def _family_model(family, data="digits", **knobs):
    exp = default_experiment(family, data)
    small = {"ar": {"n_embd": 16, "n_layer": 1, "n_head": 2}}.get(family, {"width": 16})
    exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, **small, **knobs))
    torch.manual_seed(0)
    return build_model(exp, data_sets.load(exp.data)).eval()


@pytest.mark.parametrize("family", ["gan", "vae", "ar"])
def test_every_family_is_conditional_on_labels_and_the_class_changes_its_samples(family):
    model = _family_model(family)
    assert model.classes == 10 and _family_model(family, condition="none").classes == 0
    assert _family_model(family, "ring8" if family != "ar" else "names").classes == 0
    with torch.no_grad():   # class vectors spread out, as training makes them
        for name, p in model.named_parameters():
            if "class" in name:
                p.normal_(0, 1)
    noise = model.make_noise(6, torch.Generator().manual_seed(1))
    samples = {c: model.sample(noise, torch.full((6,), c)).float() for c in (2, 7)}
    assert not torch.equal(samples[2], samples[7])
    torch.testing.assert_close(model.sample(noise, torch.full((6,), 2)).float(), samples[2])
    # without labels: the classes in turn, as the snapshots and the evaluator ask
    torch.testing.assert_close(model.sample(noise).float(), model.sample(noise, model.sample_labels(6)).float())


def test_the_projection_discriminator_adds_the_class_vector_against_the_last_features():
    model = _family_model("gan")
    x, y = torch.rand(5, 1, 8, 8) * 2 - 1, torch.tensor([0, 3, 3, 9, 1])
    with torch.no_grad():
        model.class_vectors.weight.normal_(0, 1)
        features = model.discriminator[:-1](x)
        want = model.discriminator[-1](features) + (model.class_vectors.weight[y] * features).sum(1, keepdim=True)
        torch.testing.assert_close(model.judge(x, y), want)
        torch.testing.assert_close(model.judge(x), model.discriminator(x))


def test_the_transformer_reads_the_class_where_an_unconditional_one_reads_bos():
    model = _family_model("ar")
    seq = model.encode_data(data_sets.load("digits"))[:4]
    labels = torch.tensor([1, 1, 5, 8])
    x = model.embed(seq[:, :-1], labels=labels)
    torch.testing.assert_close(x[:, 0], model.class_start.weight[labels] + model.pos_emb[0, 0])
    torch.testing.assert_close(x[:, 1:], model.token_emb(seq[:, 1:-1]) + model.pos_emb[:, 1:seq.shape[1] - 1])


def _guidable_transformers():
    """A transformer (8x8 digits) and a row transformer, conditional with label dropout, their class
    vectors spread out as training makes them."""
    from genstudio.config import ARConfig
    from genstudio.models.autoregressive import RowTransformer
    from genstudio.models.base import DataSpec

    torch.manual_seed(0)
    rows = RowTransformer(ARConfig(n_embd=32, n_layer=1, n_head=2, levels=4),
                          DataSpec("image", (1, 6, 5), levels=256, classes=10))
    for model in (_family_model("ar"), rows.eval()):
        with torch.no_grad():
            model.class_start.weight.normal_(0, 1)
        yield model


@pytest.mark.parametrize("model", list(_guidable_transformers()), ids=["transformer", "row transformer"])
def test_a_guided_transformer_writes_with_the_class_and_without_and_mixes_their_scores(model):
    """Guidance g: each next token's log-probabilities (up to a constant) are those with no class plus
    g times what the class adds; 0 is the model told no class, 1 the model told the class."""
    n, length = 3, model.tok.length
    uniforms = torch.rand(n, length, generator=torch.Generator().manual_seed(0))
    forced = torch.randint(0, model.tok.vocab, (n, length), generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([2, 7, 7])

    def log_probs(guidance, classes=labels):
        steps = model.generate(uniforms, 1.0, 0, forced, labels=classes, guidance=guidance)
        return torch.stack([step.probs for step in steps], 1).log()

    conditional, unconditional = log_probs(1.0), log_probs(0.0)
    torch.testing.assert_close(unconditional, log_probs(1.0, torch.full((n,), 10)))
    assert not torch.allclose(conditional, unconditional)
    for g in (0.5, 3.0):
        want = torch.log_softmax(unconditional + g * (conditional - unconditional), -1)
        torch.testing.assert_close(log_probs(g), want, atol=1e-4, rtol=1e-4)


def test_transformer_label_dropout_trains_the_no_class_start_and_guidance_needs_it():
    """Label dropout 1: every example is seen with no class, so only that start vector learns. A model
    without label dropout (files from before it) has no such vector: it writes unguided, and a new one
    that asks for guidance without label dropout is refused."""
    model = _family_model("ar", label_dropout=1.0).train()
    model.make_optimizers()
    seq = model.encode_data(data_sets.load("digits"))[:16]
    model.train_step(lambda: (seq, torch.arange(16) % 10))
    learnt = (model.class_start.weight.grad != 0).any(1)   # (the step's gradient, kept until the next)
    assert learnt.tolist() == [False] * 10 + [True]
    legacy = Experiment.from_dict({**default_experiment("ar", "digits").to_dict(),
                                   "family": {"n_embd": 16, "n_layer": 1, "n_head": 2, "condition": "auto"}})
    old = build_model(legacy, data_sets.load("digits"))
    assert legacy.family.label_dropout == 0 and old.class_start.num_embeddings == 10 and not old.guidable
    noise = old.make_noise(4, torch.Generator().manual_seed(0))
    torch.testing.assert_close(old.sample(noise), torch.stack([s.tokens for s in old.generate(noise, guidance=2.0)], 1))
    replica = Replica(legacy, data_sets.load("digits"))
    replica.step = 0
    with pytest.raises(ExplorerError, match="label dropout"):
        list(replica.answer(Generate("g", count=2, label=1, guidance=2.0)))
    with pytest.raises(ConfigError, match="label_dropout"):
        _family_model("ar", label_dropout=0.0, guidance=2.0)
    assert _family_model("ar", "names", label_dropout=0.0, guidance=2.0).classes == 0   # no classes to guide


def test_a_conditional_vae_encodes_and_decodes_with_the_class_beside_the_code():
    model = _family_model("vae")
    x, y = torch.rand(3, 1, 8, 8), torch.tensor([4, 0, 9])
    with torch.no_grad():
        mu, _ = model.encode(x, y)
        want, _ = model.encoder(torch.cat([x.flatten(1), torch.nn.functional.one_hot(y, 10).float()], 1)).chunk(2, 1)
        torch.testing.assert_close(mu, want)
        z = torch.randn(3, model.cfg.latent_dim)
        out = torch.sigmoid(model.decoder(torch.cat([z, torch.nn.functional.one_hot(y, 10).float()], 1)))
        torch.testing.assert_close(model.decode_mean(z, y), out.view(3, 1, 8, 8))
