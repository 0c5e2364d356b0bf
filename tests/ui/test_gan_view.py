"""The GAN view shows exactly what the running discriminator and generator compute."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from genstudio.config import default_experiment
from genstudio.ui.views.gan import ARROWS, COLLAPSE_S, COLLAPSE_WARMUP, collapse_warning

from .test_main_window import TIMEOUT_MS, paused_view, running_model


def _paused_view(window, qtbot, data: str, control: str, **family):
    """A small GAN trained a little on `data`, paused, its view on screen and answered for the paused weights."""
    exp = default_experiment("gan", data)
    view, step = paused_view(window, qtbot, replace(exp, family=replace(exp.family, width=16, **family)), control, 30)
    qtbot.waitUntil(lambda: view.shown_step.get(control) == step, timeout=TIMEOUT_MS)
    return view, running_model(window, qtbot)


def test_the_plane_shows_the_running_networks(window, qtbot):
    view, model = _paused_view(window, qtbot, "ring8", "plane", latent_dim=3)
    ds = window.run.info.dataset
    answer = view.plane_answer
    (x0, x1), (y0, y1) = answer["x_range"], answer["y_range"]
    assert (x0, x1) == tuple(view.plane.getViewBox().viewRange()[0])  # the grid is the visible region
    # the heat map: D's probability "real" on that grid, as drawn
    xs, ys = np.linspace(x0, x1, 64, dtype=np.float32), np.linspace(y0, y1, 64, dtype=np.float32)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    with torch.no_grad():
        want = torch.sigmoid(model.discriminator(torch.from_numpy(ds.standardise(grid)))).numpy().reshape(64, 64)
    np.testing.assert_allclose(view.heat.image, want, atol=1e-5)
    rect = view.heat.mapRectToParent(view.heat.boundingRect())
    assert np.allclose([rect.left(), rect.right(), rect.top(), rect.bottom()], [x0, x1, y0, y1], atol=1e-4)
    # the generated points: the training generator's output for the view's noise
    fake = model.generator(torch.from_numpy(view.noise))
    np.testing.assert_allclose(np.column_stack(view.fake_item.getData()), ds.unstandardise(fake.detach().numpy()),
                               rtol=1e-4, atol=1e-4)
    # the arrows: minus the gradient of the generator's loss at each point, to a common scale
    point = fake.detach().requires_grad_(True)
    grad, = torch.autograd.grad(F.softplus(-model.discriminator(point)).sum(), point)
    push = -grad.numpy() * ds.scale
    x, y = view.arrow_item.getData()
    segments = np.column_stack([x, y]).reshape(-1, 2, 2)
    assert len(segments) == ARROWS
    drawn = segments[:, 1] - segments[:, 0]
    scale = drawn[:, 0] @ push[:ARROWS, 0] / (push[:ARROWS, 0] @ push[:ARROWS, 0])
    np.testing.assert_allclose(drawn, push[:ARROWS] * scale, rtol=1e-3, atol=1e-6)
    # the mesh: the generator over noise dims (0, 1), the third held at 0
    mesh_x, mesh_y = view.mesh_item.getData()
    codes = np.zeros((15, 15, 3), np.float32)
    codes[..., 0], codes[..., 1] = np.linspace(-2, 2, 15)[None, :], np.linspace(-2, 2, 15)[:, None]
    with torch.no_grad():
        mesh = ds.unstandardise(model.generator(torch.from_numpy(codes.reshape(-1, 3))).numpy()).reshape(15, 15, 2)
    np.testing.assert_allclose(np.column_stack([mesh_x[:225], mesh_y[:225]]), mesh.reshape(-1, 2), rtol=1e-4, atol=1e-4)
    # a layer switched off is hidden, and back on it shows again
    view.layers["mesh"].setChecked(False)
    assert not view.mesh_item.isVisible()
    view.layers["mesh"].setChecked(True)
    assert view.mesh_item.isVisible()


def test_slow_motion_alternates_the_networks(window, qtbot):
    view, _ = _paused_view(window, qtbot, "ring8", "plane")
    asked = []
    view.step_asked.connect(asked.append)
    before = window.run.step
    view.slow.setChecked(True)
    assert "discriminator" in view.moving.text()
    qtbot.waitUntil(lambda: len(asked) >= 2, timeout=TIMEOUT_MS)
    view.slow.setChecked(False)
    assert asked[:2] == ["d", "g"]
    qtbot.waitUntil(lambda: window.run.step >= before + 2, timeout=TIMEOUT_MS)
    assert window.run.state == "paused"


def test_the_image_view_shows_critic_histograms_and_nearest_images(window, qtbot):
    view, model = _paused_view(window, qtbot, "digits", "histogram")
    ds = window.run.info.dataset
    assert model.classes == 10   # each real image judged as its own class
    with torch.no_grad():
        real = torch.sigmoid(model.judge(model.encode_data(ds, "held_out")[:256],
                                         torch.from_numpy(ds.held_out_labels[:256]))).flatten().numpy()
    edges = np.linspace(0, 1, 31)
    np.testing.assert_array_equal(view.hist_real.getData()[1], np.histogram(real, edges)[0])
    qtbot.waitUntil(lambda: view.samples is not None, timeout=TIMEOUT_MS)
    view.pick(3)
    qtbot.waitUntil(lambda: view.near_shown is not None, timeout=TIMEOUT_MS)
    shown = view.near_shown
    np.testing.assert_array_equal(shown["example"], view.samples[3])
    assert shown["space"] == "the classifier's features"
    assert np.all(np.diff(shown["distances"]) >= 0)  # nearest first
    np.testing.assert_array_equal(shown["nearest"], ds.x[shown["indices"]])


def test_a_picked_class_shows_that_class_from_the_running_generator(window, qtbot):
    view, model = _paused_view(window, qtbot, "digits", "histogram")
    qtbot.waitUntil(lambda: view.samples is not None, timeout=TIMEOUT_MS)
    assert len(view.samples) == 80   # each class, a row of 8 each
    view.class_picker.setCurrentIndex(1 + 4)
    with torch.no_grad():
        noise = model.make_noise(64, torch.Generator().manual_seed(3))
        want = model.decode(model.sample(noise, torch.full((64,), 4)), window.run.info.dataset)
    qtbot.waitUntil(lambda: len(view.samples) == 64 and np.allclose(view.samples, want, atol=1e-5),
                    timeout=TIMEOUT_MS)


def test_the_collapse_rule():
    covered = [(t * 0.2, COLLAPSE_WARMUP + t, 0.25) for t in range(20)]  # a quarter of the modes for 4 s
    assert collapse_warning(covered, COLLAPSE_WARMUP + 20)
    assert not collapse_warning(covered[:10], COLLAPSE_WARMUP + 10)  # not yet for long enough
    assert not collapse_warning(covered, COLLAPSE_WARMUP - 1)        # still warming up
    recovered = covered + [(4.2, COLLAPSE_WARMUP + 21, 1.0)]
    assert not collapse_warning(recovered, COLLAPSE_WARMUP + 21)
    assert COLLAPSE_S <= 4.0


def test_the_collapse_warning_fires_on_the_collapse_preset_and_not_on_the_healthy_one():
    """The view's rule, fed what its plane answers carry (the training generator's points on fixed
    noise), on the two lesson presets trained headless: the collapsing run is warned about while it
    trains (its learning rate never lets it settle, so a lucky moment may cover modes again), the
    healthy one never."""
    from genstudio.config import lesson_experiment
    from genstudio.engine.metrics import mode_metrics
    from genstudio.engine.trainer import Cadence, Trainer

    noise = torch.from_numpy(np.random.default_rng(0).standard_normal((512, 8)).astype(np.float32))
    warned = []
    for name in ("ring", "mode-collapse"):
        trainer = Trainer(lesson_experiment("gan", name, threads=1), Cadence(snapshot_s=None, evaluate_at_end=False))
        ds, history, warnings = trainer.dataset, [], []
        for block in range(24):
            for _ in trainer.run(steps=100):
                pass
            with torch.no_grad():
                fake = ds.unstandardise(trainer.model.generator(noise).numpy())
            m = mode_metrics(fake, ds.modes, ds.mode_std)
            history.append((block * 0.5, trainer.step, m["modes_captured"] / m["modes_total"]))
            warnings.append(collapse_warning(history, trainer.step))
        warned.append(sum(warnings))
    assert warned[0] == 0 and warned[1] >= 5
