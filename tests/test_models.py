"""The four families: they learn (on tiny configs), and their samplers keep their contracts."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from genstudio import data
from genstudio.config import FAMILIES, ARConfig, DiffusionConfig
from genstudio.engine.metrics import energy_distance
from genstudio.engine.trainer import Cadence, Trainer
from genstudio.models import build_model
from genstudio.models.autoregressive import TokenStep, Transformer, nucleus
from genstudio.models.base import DataSpec
from genstudio.models.diffusion import Diffusion, StepOutput

QUIET = Cadence(snapshot_s=None, evaluate_at_end=False)


def train(exp):
    trainer = Trainer(exp, QUIET)
    return trainer, list(trainer.run())


# learning ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, data_name, steps", [
    ("vae", "ring8", 200),
    ("vae", "digits", 200),
    ("diffusion", "moons", 300),
    ("diffusion", "digits", 100),
    ("ar", "ring8", 200),
    ("ar", "names", 200),
    ("ar", "digits", 150),
])
def test_loss_falls(make_experiment, losses_of, model, data_name, steps):
    _, events = train(make_experiment(model, data_name, steps=steps, seed=0))
    loss = losses_of(events)["loss"]
    assert len(loss) == steps and np.isfinite(loss).all()
    first, last = loss[:20].mean(), loss[-20:].mean()
    assert last < 0.8 * first, (first, last)


def _energy_to_data(trainer, n=1000):
    gen = torch.Generator().manual_seed(99)
    model = trainer.model
    samples = model.decode(model.sample(model.make_noise(n, gen)), trainer.dataset)
    return energy_distance(samples, trainer.dataset.held_out[:n])


@pytest.mark.parametrize("data_name", ["moons", "ring8"])
def test_gan_samples_move_towards_the_data(make_experiment, data_name):
    """GAN losses do not simply fall; what must fall is the distance from samples to data."""
    trainer = Trainer(make_experiment("gan", data_name, steps=600, seed=0), QUIET)
    before = _energy_to_data(trainer)
    events = list(trainer.run())
    assert events[-1].reason == "steps"
    after = _energy_to_data(trainer)
    assert after < 0.4 * before, (before, after)


@pytest.mark.parametrize("model", FAMILIES)
@pytest.mark.parametrize("data_name", ["ring8", "digits"])
def test_sample_and_decode_shapes(make_experiment, model, data_name):
    exp = make_experiment(model, data_name)
    ds = data.load(data_name)
    torch.manual_seed(0)
    net = build_model(exp, ds)
    noise = net.make_noise(5, torch.Generator().manual_seed(0))
    out = net.decode(net.sample(noise), ds)
    expected = (5, 2) if ds.kind == "points" else (5, 1, 8, 8)
    assert np.asarray(out).shape == expected
    assert np.isfinite(out).all()
    if ds.kind == "image":
        assert out.min() >= 0 and out.max() <= 1
    held = net.encode_data(ds, "held_out")[:7]
    nll = net.nll(held)
    if model in ("gan", "diffusion"):  # no likelihood (or bound) for these two
        assert nll is None
    else:
        assert nll.shape == (7,) and torch.isfinite(nll).all()


def test_ar_decodes_words(make_experiment):
    ds = data.load("names")
    torch.manual_seed(0)
    net = build_model(make_experiment("ar", "names"), ds)
    words = net.decode(net.sample(net.make_noise(8, torch.Generator().manual_seed(0))), ds)
    assert len(words) == 8 and all(isinstance(w, str) for w in words)
    assert all(set(w) <= set(ds.alphabet[1:]) for w in words)
    # tokens round-trip: encode a few real words and decode the targets back
    tokens = net.encode_data(ds)[:5, 1:].clamp(min=0)
    assert net.decode(tokens, ds) == list(ds.words[:5])


# diffusion samplers ------------------------------------------------------------------------------

def _diffusion(timesteps=100, sample_steps=10, kind="points"):
    torch.manual_seed(0)
    cfg = DiffusionConfig(width=16, depth=1, timesteps=timesteps, sample_steps=sample_steps, ema=0.0)
    spec = DataSpec("points", (2,)) if kind == "points" else DataSpec("image", (1, 8, 8), levels=17)
    return Diffusion(cfg, spec)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("steps", [2, 7, 10, 100])
@pytest.mark.parametrize("kind", ["points", "image"])
def test_denoise_yields_every_step(sampler, steps, kind):
    model = _diffusion(timesteps=100, sample_steps=steps, kind=kind)
    noise = model.make_noise(6, torch.Generator().manual_seed(1))
    sched = model.scheduler(sampler, steps)
    out = list(model.denoise(noise, sched, generator=torch.Generator().manual_seed(2)))
    assert len(out) == steps
    ts = [t for t, _ in out]
    assert ts[-1] == 0
    assert ts[0] == 99
    assert all(a > b for a, b in zip(ts, ts[1:]))  # strictly decreasing
    for _, step in out:
        assert isinstance(step, StepOutput)
        assert step.prev_sample.shape == noise.shape
        assert step.pred_original_sample.shape == noise.shape
        assert torch.isfinite(step.prev_sample).all()
    # at t = 0 the last step lands on its own prediction of the clean sample
    assert torch.allclose(out[-1][1].prev_sample, out[-1][1].pred_original_sample, atol=1e-5)


def test_default_scheduler_follows_the_config():
    model = _diffusion(sample_steps=13)
    assert len(list(model.denoise(model.make_noise(3, torch.Generator().manual_seed(0))))) == 13


def test_ddim_is_deterministic():
    model = _diffusion()
    noise = model.make_noise(50, torch.Generator().manual_seed(1))
    a = model.sample(noise, model.scheduler("ddim", 10))
    finals = []
    for seed in (1, 2):
        steps = list(model.denoise(noise, model.scheduler("ddim", 10), generator=torch.Generator().manual_seed(seed)))
        finals.append(steps[-1][1].prev_sample)
    assert torch.equal(finals[0], finals[1])  # eta = 0: the generator plays no part
    assert torch.equal(a, finals[0])
    other = model.sample(model.make_noise(50, torch.Generator().manual_seed(2)), model.scheduler("ddim", 10))
    assert not torch.allclose(a, other)


def test_ddpm_depends_on_the_generator():
    model = _diffusion()
    noise = model.make_noise(50, torch.Generator().manual_seed(1))

    def final(seed):
        steps = list(model.denoise(noise, model.scheduler("ddpm", 10), generator=torch.Generator().manual_seed(seed)))
        return steps[-1][1].prev_sample

    assert torch.equal(final(3), final(3))
    assert not torch.allclose(final(3), final(4))
    # sample() fixes its own generator so snapshots stay comparable
    assert torch.equal(model.sample(noise, model.scheduler("ddpm", 10)),
                       model.sample(noise, model.scheduler("ddpm", 10)))


def test_image_sampler_clips_the_clean_prediction():
    model = _diffusion(kind="image")
    noise = model.make_noise(4, torch.Generator().manual_seed(0))
    for _, step in model.denoise(noise, model.scheduler("ddim", 5)):
        assert step.pred_original_sample.abs().max() <= 1.0 + 1e-6


def test_add_noise_is_the_forward_process():
    model = _diffusion(timesteps=100)
    x0 = torch.randn(5, 2)
    noise = torch.randn(5, 2)
    t = torch.tensor([0, 10, 50, 99, 99])
    a = model.alphas_cumprod[t][:, None]
    want = a.sqrt() * x0 + (1 - a).sqrt() * noise
    assert torch.allclose(model.scheduler().add_noise(x0, noise, t), want)
    # the cosine schedule too, and images (one alpha-bar per example, broadcast over the pixels)
    images = _diffusion(kind="image")
    x0, noise = torch.rand(3, 1, 8, 8) * 2 - 1, torch.randn(3, 1, 8, 8)
    t = torch.tensor([5, 60, 99])
    a = images.alphas_cumprod[t].view(3, 1, 1, 1)
    assert torch.allclose(images.scheduler().add_noise(x0, noise, t), a.sqrt() * x0 + (1 - a).sqrt() * noise)


def test_training_noises_with_add_noise(monkeypatch):
    """train_step's x_t is the scheduler's add_noise of its batch (the forward page shows the same)."""
    import genstudio.models.diffusion as diffusion

    model = _diffusion(timesteps=100)
    model.configure_optimizers()
    calls = []
    real = diffusion.add_noise
    monkeypatch.setattr(diffusion, "add_noise", lambda *args: calls.append(args) or real(*args))
    batch = torch.randn(16, 2)
    model.train_step(lambda: batch)
    assert len(calls) == 1 and calls[0][1] is batch


def _ho_ddpm(net, alphas_cumprod, x, generator):
    """Ho et al. 2020's ancestral sampler, written from the paper: x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t)
    eps) / sqrt(alpha_t) + sigma_t z, with sigma_t^2 the posterior variance beta~_t."""
    T = len(alphas_cumprod)
    for t in range(T - 1, -1, -1):
        abar = alphas_cumprod[t]
        abar_prev = alphas_cumprod[t - 1] if t > 0 else torch.tensor(1.0)
        alpha = abar / abar_prev
        eps = net(x, torch.full((len(x),), t, dtype=torch.long))
        x = (x - (1 - alpha) / (1 - abar).sqrt() * eps) / alpha.sqrt()
        if t > 0:
            x = x + ((1 - abar_prev) / (1 - abar) * (1 - alpha)).sqrt() * torch.randn(x.shape, generator=generator)
    return x


@torch.no_grad()
def test_ddim_with_eta_1_over_the_full_schedule_is_ddpm():
    """On a toy case (an untrained network: any model, not only a perfect one), DDIM with eta 1 and every
    step samples the distribution of the paper's DDPM sampler; with eta 0 it does not."""
    from genstudio.engine.metrics import energy_distance

    model = _diffusion(timesteps=50)
    net, ac = model.ema.module, model.alphas_cumprod
    noise = model.make_noise(3000, torch.Generator().manual_seed(1))
    ddim = model.sample(noise, model.scheduler("ddim", 50, eta=1.0)).numpy()
    ho = _ho_ddpm(net, ac, noise.clone(), torch.Generator().manual_seed(7)).numpy()  # other noise
    ho_again = _ho_ddpm(net, ac, model.make_noise(3000, torch.Generator().manual_seed(2)),
                        torch.Generator().manual_seed(8)).numpy()
    same = energy_distance(ddim, ho)
    floor = energy_distance(ho_again, ho)  # two DDPM runs: what sampling noise alone gives
    deterministic = energy_distance(model.sample(noise, model.scheduler("ddim", 50, eta=0.0)).numpy(), ho)
    assert same < 3 * floor + 1e-3
    assert deterministic > 5 * same
    # and the ddpm sampler is that same sampler
    assert torch.equal(model.sample(noise, model.scheduler("ddpm", 50)),
                       model.sample(noise, model.scheduler("ddim", 50, eta=1.0)))


# autoregressive sampler ----------------------------------------------------------------------------

def _transformer(kind="image", **cfg):
    torch.manual_seed(0)
    if kind == "image":
        spec = DataSpec("image", (1, 8, 8), levels=17)
    else:
        spec = DataSpec("points", (2,))
    model = Transformer(ARConfig(n_embd=32, n_layer=1, n_head=4, **cfg), spec)
    with torch.no_grad():  # sharper than at init, so the choice of token really depends on the input
        model.head.weight.mul_(20)
    return model


@pytest.mark.parametrize("kind, length, vocab", [("image", 64, 17), ("points", 2, 16)])
def test_generate_yields_one_distribution_per_position(kind, length, vocab):
    model = _transformer(kind, bins=16)
    uniforms = model.make_noise(5, torch.Generator().manual_seed(0))
    steps = list(model.generate(uniforms))
    assert len(steps) == length
    for pos, step in enumerate(steps):
        assert isinstance(step, TokenStep) and step.position == pos
        assert step.probs.shape == (5, vocab)
        assert torch.allclose(step.probs.sum(1), torch.ones(5), atol=1e-5)
        assert (step.probs >= 0).all()
        assert step.tokens.shape == (5,)
        assert ((step.tokens >= 0) & (step.tokens < vocab)).all()
    assert torch.equal(model.sample(uniforms), torch.stack([s.tokens for s in steps], 1))
    assert model.training  # generate restores the mode it found


def test_generate_follows_the_uniforms():
    """Inverse-CDF sampling: token k is chosen when u falls in [cdf[k-1], cdf[k])."""
    model = _transformer()
    uniforms = model.make_noise(200, torch.Generator().manual_seed(0))
    for step in itertools.islice(model.generate(uniforms), 3):
        cdf = step.probs.cumsum(1)
        u = uniforms[:, step.position]
        lower = torch.where(step.tokens > 0, cdf.gather(1, (step.tokens - 1).clamp(min=0)[:, None]).squeeze(1),
                            torch.zeros_like(u))
        upper = cdf.gather(1, step.tokens[:, None]).squeeze(1)
        assert ((lower <= u + 1e-5) & (u <= upper + 1e-5)).all()


def test_top_k_one_is_greedy():
    model = _transformer()
    seqs = []
    for seed in (0, 1):
        uniforms = model.make_noise(4, torch.Generator().manual_seed(seed))
        steps = list(model.generate(uniforms, top_k=1))
        for step in steps:
            assert torch.equal(step.probs.max(1).values, torch.ones(4))
            assert torch.equal(step.tokens, step.probs.argmax(1))
        seqs.append(torch.stack([s.tokens for s in steps], 1))
    assert torch.equal(seqs[0], seqs[1])  # the uniforms no longer matter
    # teacher-forced, the model's most likely next token is the one chosen at every position
    model.eval()
    with torch.no_grad():
        bos = torch.full((4, 1), model.tok.bos)
        logits = model(torch.cat([bos, seqs[0][:, :-1]], 1))
    assert torch.equal(logits.argmax(-1), seqs[0])


def test_top_k_keeps_k_tokens():
    model = _transformer()
    step = next(model.generate(model.make_noise(4, torch.Generator().manual_seed(0)), top_k=3))
    assert ((step.probs > 0).sum(1) == 3).all()


@pytest.mark.parametrize("rows", [False, True], ids=["flat", "rows"])
def test_top_p_steps_carry_the_distribution_before_truncation(rows):
    model = _row_transformer() if rows else _transformer()
    uniforms = model.make_noise(4, torch.Generator().manual_seed(0))
    steps = list(itertools.islice(model.generate(uniforms, temperature=2.0, top_p=0.5), 5))
    assert torch.allclose(steps[0].raw, next(model.generate(uniforms, temperature=2.0)).probs, atol=1e-6)
    for step in steps:
        kept = nucleus(step.raw, 0.5)
        assert (step.probs[~kept] == 0).all()
        assert torch.allclose(step.probs, step.raw * kept / (step.raw * kept).sum(1, keepdim=True), atol=1e-6)
    assert any(not nucleus(step.raw, 0.5).all() for step in steps)  # something was dropped
    assert next(model.generate(uniforms, top_k=2)).raw is not None
    assert all(step.raw is None for step in model.generate(uniforms, top_k=0, top_p=1.0))
    assert next(model.generate(uniforms, temperature=0.0, top_p=0.5)).raw is None  # greedy: nothing to truncate


def test_temperature_shapes_the_distribution():
    model = _transformer()
    uniforms = model.make_noise(4, torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        logits = model(torch.full((4, 1), model.tok.bos))[:, -1]
    entropies = []
    for temperature in (0.5, 1.0, 2.0):
        probs = next(model.generate(uniforms, temperature=temperature)).probs
        assert torch.allclose(probs, (logits / temperature).softmax(1), atol=1e-6)
        entropies.append(float(-(probs * probs.clamp(min=1e-12).log()).sum(1).mean()))
    assert entropies[0] < entropies[1] < entropies[2]
    # the config's temperature is the default
    cold = _transformer(temperature=0.5)
    assert torch.allclose(next(cold.generate(uniforms)).probs, next(cold.generate(uniforms, temperature=0.5)).probs)


# real-size images ----------------------------------------------------------------------------------

def _write_npy_images(path, shape, seed=0):
    """Blobs on black, as uint8 (N, H, W[, 3]): something an importer takes as a user's images."""
    rng = np.random.default_rng(seed)
    n, h, w = shape[0], shape[1], shape[2]
    yy, xx = np.mgrid[:h, :w]
    images = np.zeros(shape, np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(h / 4, 3 * h / 4), rng.uniform(w / 4, 3 * w / 4), rng.uniform(h / 8, h / 4)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) * 255
        images[i] = blob[..., None] * rng.uniform(0.3, 1, 3) if len(shape) == 4 else blob
    np.save(path, images)
    return str(path)


@pytest.mark.parametrize("shape", [(64, 28, 28), (64, 32, 32, 3)], ids=["28-grey", "32-rgb"])
@pytest.mark.parametrize("model", FAMILIES)
def test_large_image_defaults_build_train_and_sample(tmp_path, losses_of, model, shape):
    """The defaults an imported 28x28 grey or 32x32 RGB set gets (its presets, the networks that
    scale to it) build, train a few steps with a finite loss and sample images of the data's shape."""
    from dataclasses import replace

    from genstudio.config import default_experiment

    exp = default_experiment(model, _write_npy_images(tmp_path / "images.npy", shape), steps=2, threads=1)
    if model == "diffusion":  # the default sampler, with fewer steps
        exp = replace(exp, family=replace(exp.family, sample_steps=3))
    trainer = Trainer(exp, QUIET)
    events = list(trainer.run())
    losses = losses_of(events)
    assert set(losses) == {"step", *trainer.loss_names}
    assert all(len(v) == 2 and np.isfinite(v).all() for v in losses.values())
    samples = trainer.model.decode(trainer.model.sample(trainer.fixed_noise[:3]), trainer.dataset)
    c = 3 if len(shape) == 4 else 1
    assert samples.shape == (3, c, shape[1], shape[2])
    assert samples.min() >= 0 and samples.max() <= 1


def _row_transformer(shape=(3, 6, 5), levels=4):
    from genstudio.models.autoregressive import RowTransformer

    torch.manual_seed(0)
    model = RowTransformer(ARConfig(n_embd=32, n_layer=1, n_head=2, levels=levels),
                           DataSpec("image", shape, levels=256))
    with torch.no_grad():
        model.head.weight.mul_(10)
    return model.eval()


def test_large_images_get_the_row_transformer_on_fewer_levels(tmp_path):
    from genstudio.config import default_experiment
    from genstudio.models.autoregressive import LARGE_IMAGE_LEVELS, RowTransformer

    ds = data.load(_write_npy_images(tmp_path / "big.npy", (20, 28, 28)))
    model = build_model(default_experiment("ar", ds.source or str(tmp_path / "big.npy")), ds)
    assert isinstance(model, RowTransformer) and model.tok.vocab == LARGE_IMAGE_LEVELS
    assert type(build_model(default_experiment("ar", "digits"), data.load("digits"))) is Transformer


def test_row_transformer_is_causal_in_raster_order():
    """The logits at a pixel do not change when later pixels (in rows, then columns, then
    channels) change, and do change with earlier ones."""
    model = _row_transformer()
    seq = torch.randint(0, 4, (2, 1 + 6 * 5 * 3))
    seq[:, 0] = model.tok.bos
    cut = 1 + 40  # the 41st token: inside row 2
    changed = seq.clone()
    changed[:, cut + 1:] = (changed[:, cut + 1:] + 1) % 4
    with torch.no_grad():
        before, _ = model._logits(seq)
        after, _ = model._logits(changed)
    assert torch.allclose(before[:, :cut + 1], after[:, :cut + 1], atol=1e-5)
    assert not torch.allclose(before[:, cut + 1:], after[:, cut + 1:])


def test_row_transformer_generates_what_it_would_predict():
    """Every distribution `generate` yields (with its caches) equals the teacher-forced one for the
    tokens it chose, and the decoded image puts each pixel's channels back together."""
    model = _row_transformer()
    uniforms = model.make_noise(3, torch.Generator().manual_seed(1))
    steps = list(model.generate(uniforms))
    assert [s.position for s in steps] == list(range(90))
    tokens = torch.stack([s.tokens for s in steps], 1)
    with torch.no_grad():
        logits, _ = model._logits(torch.cat([torch.full((3, 1), model.tok.bos), tokens], 1))
    assert torch.allclose(logits.softmax(-1), torch.stack([s.probs for s in steps], 1), atol=1e-5)
    images = model.tok.decode(tokens.numpy(), None)
    assert images.shape == (3, 3, 6, 5)
    # token order is row, column, channel: token (r * 5 + c) * 3 + ch is pixel (ch, r, c)
    assert images[1, 2, 4, 3] == tokens[1, (4 * 5 + 3) * 3 + 2].item() / 3


def test_ar_samples_from_its_weight_average_and_keeps_training_the_live_weights():
    torch.manual_seed(0)
    model = Transformer(ARConfig(n_embd=32, n_layer=1, n_head=4, ema=0.9, batch_size=8),
                        DataSpec("image", (1, 4, 4), levels=4))
    model.configure_optimizers()
    batch = torch.randint(0, 4, (8, 17))
    batch[:, 0] = model.tok.bos
    for _ in range(20):
        model.train_step(lambda: batch)
    live = {k: v.clone() for k, v in model.state_dict().items()}
    with model.averaged_weights():
        averaged = {k: v.clone() for k, v in model.state_dict().items()}
    assert any(not torch.equal(live[k], averaged[k]) for k in live)
    assert all(torch.equal(live[k], v) for k, v in model.state_dict().items())  # put back
    noise = model.make_noise(5, torch.Generator().manual_seed(0))
    sampled = model.sample(noise)
    assert all(torch.equal(live[k], v) for k, v in model.state_dict().items())
    swapped = Transformer(model.cfg, model.spec)
    swapped.load_state_dict(averaged)
    assert torch.equal(sampled, swapped.sample(noise))  # the samples are the average's
    assert all(torch.equal(averaged[k], v) for k, v in model.explorer_state().items())
