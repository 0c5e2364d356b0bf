"""The diffusion view shows exactly what the running model computes: its sampler's steps, the forward
process, its denoising direction and its loss per timestep range."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from genstudio.config import default_experiment
from genstudio.engine.render import image_grid

from .test_main_window import TIMEOUT_MS, paused_view, running_model


def _paused_view(window, qtbot, data: str, **family):
    """A small diffusion model trained a little on `data`, paused; its view on screen, with weights
    from the paused step."""
    exp = default_experiment("diffusion", data)
    view, step = paused_view(window, qtbot, replace(exp, family=replace(exp.family, **family)), "forward")
    return view, running_model(window, qtbot), step


def _sampled(view, qtbot, step):
    """Press Sample and wait for the whole trajectory, computed with the weights of `step`."""
    view.sample()
    qtbot.waitUntil(lambda: view.total > 0 and len(view.frames) == view.total and view.shown_step.get("denoise") == step
                    and view.table.rowCount() > 0, timeout=TIMEOUT_MS)


def test_the_scrubbed_step_is_the_samplers_own(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "digits", width=8, timesteps=100, sample_steps=20)
    ds = window.run.info.dataset
    view.steps.setValue(12)
    _sampled(view, qtbot, step)
    assert view.total == 13 and view.shown_frame == 12  # it followed the trajectory to its end
    # the same sampler, seed and weights, run directly: a row of 8 for each of the 10 classes
    assert model.classes == 10 and len(view.frames[0]) == 80
    generator = torch.Generator().manual_seed(view.seed)
    x = model.make_noise(80, generator)
    frames, preds = [], []
    with torch.no_grad():
        for _, out in model.denoise(x, model.scheduler("ddpm", 12), generator=generator,
                                    labels=torch.arange(80) // 8):
            frames.append(model.decode(x, ds))
            preds.append(model.decode(out.pred_original_sample, ds))
            x = out.prev_sample
    frames.append(model.decode(x, ds))
    for k in (0, 5, 11, 12):
        view.scrub.setValue(k)
        np.testing.assert_allclose(view.frames[k], frames[k], atol=1e-5)
        shown = view.x_panel.image.image
        assert np.abs(shown.astype(int) - image_grid(frames[k], scale=1, pad=1, cols=8)).max() <= 1
        if k < 12:
            np.testing.assert_allclose(view.preds[k], preds[k], atol=1e-5)
    assert "x_0, the result" in view.frame_label.text()
    view.scrub.setValue(0)
    assert "pure noise" in view.frame_label.text()
    # playback walks the kept frames without asking the model again
    asked = view.explorer.submit
    view.explorer.submit = lambda request: (_ for _ in ()).throw(AssertionError("asked the model while playing"))
    try:
        view.play_button.setChecked(True)
        qtbot.waitUntil(lambda: not view.play_button.isChecked(), timeout=TIMEOUT_MS)
        assert view.scrub.value() == 12
    finally:
        view.explorer.submit = asked
    # DDIM with eta: a new row in the steps-vs-quality table
    view.sampler.setCurrentIndex(1)
    view.eta.setValue(0.5)
    rows = view.table.rowCount()
    _sampled(view, qtbot, step)
    qtbot.waitUntil(lambda: view.table.rowCount() == rows + 1, timeout=TIMEOUT_MS)
    assert [view.table.item(rows, c).text() for c in range(3)] == ["DDIM", "0.50", "12"]
    assert view.table.item(rows, 3).text().startswith("each class, guidance 1.00: FD ")
    assert "class accuracy" in view.table.item(rows, 3).text()


def test_the_forward_slider_is_add_noise_with_the_shown_noise(window, qtbot):
    view, model, _ = _paused_view(window, qtbot, "digits", width=8, timesteps=200)
    ds = window.run.info.dataset
    view.pages.setCurrentIndex(1)
    view.t_slider.setValue(150)
    qtbot.waitUntil(lambda: view.forward_answer is not None and view.forward_answer["t"] == 150, timeout=TIMEOUT_MS)
    noise = torch.from_numpy(view.forward_answer["noise"])
    x0 = model.encode_data(ds, "held_out")[:8]
    x_t = model.scheduler().add_noise(x0, noise, torch.full((8,), 150))
    rows = np.concatenate([model.decode(x0, ds), model.decode(noise, ds), model.decode(x_t, ds)])
    assert np.abs(view.forward_panel.image.image.astype(int) - image_grid(rows, scale=1, pad=1, cols=8)).max() <= 1
    a = float(model.alphas_cumprod[150])
    assert f"{a ** 0.5:.2f} x_0 + {(1 - a) ** 0.5:.2f} noise" in view.t_label.text()


def test_2d_field_particles_schedules_and_loss_bars(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "ring8", width=32, depth=1, timesteps=100, sample_steps=10)
    ds = window.run.info.dataset
    # the field: minus the sampling network's predicted noise on the plotted grid, drawn to one scale
    view.pages.setCurrentIndex(1)
    view.t_slider.setValue(40)
    qtbot.waitUntil(lambda: view.field_answer is not None and view.field_answer["t"] == 40, timeout=TIMEOUT_MS)
    (x0, x1), (y0, y1) = view.forward_plot.getViewBox().viewRange()
    grid = np.stack(np.meshgrid(np.linspace(x0, x1, 21, dtype=np.float32), np.linspace(y0, y1, 21, dtype=np.float32)),
                    -1).reshape(-1, 2)
    np.testing.assert_allclose(view.field_answer["grid"], grid, atol=1e-5)
    with torch.no_grad():
        want = -model.ema.module(torch.from_numpy(ds.standardise(grid)),
                                 torch.full((len(grid),), 40)).numpy() * ds.scale
    x, y = view.field_item.getData()
    drawn = np.column_stack([x, y]).reshape(-1, 2, 2)
    drawn = drawn[:, 1] - drawn[:, 0]
    scale = drawn[:, 0] @ want[:, 0] / (want[:, 0] @ want[:, 0])
    np.testing.assert_allclose(drawn, want * scale, rtol=1e-3, atol=1e-6)
    # particles: the scrubbed frame's points are drawn, with their paths so far
    view.pages.setCurrentIndex(0)
    _sampled(view, qtbot, step)
    view.scrub.setValue(4)
    np.testing.assert_allclose(np.column_stack(view.particle_item.getData()), view.frames[4], rtol=1e-5, atol=1e-5)
    trail_x, _ = view.trail_item.getData()
    assert len(trail_x) == 5 * 96
    # the schedules: this run's alpha-bar, and the loss per timestep range from the training network
    view.pages.setCurrentIndex(2)
    qtbot.waitUntil(lambda: view.shown_step.get("schedule") is not None and view.shown_step.get("loss") == step,
                    timeout=TIMEOUT_MS)
    curves = {item.name(): item.getData()[1] for item in view.schedule_plots["alpha_bar"].listDataItems()}
    np.testing.assert_allclose(curves["linear (this run)"], model.alphas_cumprod.numpy(), rtol=1e-5)
    assert "cosine" in curves
    heights = view.loss_bars.opts["height"]
    x0 = model.encode_data(ds, "held_out")[:128]
    generator = torch.Generator().manual_seed(0)
    edges = np.linspace(0, 100, 11).round().astype(int)
    t = torch.cat([torch.randint(a, b, (128,), generator=generator) for a, b in zip(edges, edges[1:])])
    x0 = x0.repeat(10, 1)
    noise = torch.randn(x0.shape, generator=generator)
    with torch.no_grad():
        error = (model.net(model.scheduler().add_noise(x0, noise, t), t) - noise) ** 2
    np.testing.assert_allclose(heights, error.reshape(10, -1).mean(1).numpy(), rtol=1e-4)


@pytest.mark.training_thread  # it reads the trainer's model settings
def test_guidance_edited_in_the_settings_reaches_the_trainer_and_the_slider(window, qtbot):
    view, model, step = _paused_view(window, qtbot, "digits", width=8, timesteps=100, sample_steps=10)
    assert view.condition_row.isVisibleTo(view) and view.guidance_scale() == 1.0
    window.pane.panel.knobs["guidance"].setValue(3.5)
    window.pane.single_step("all")  # commands are applied between steps
    qtbot.waitUntil(lambda: window.run.worker.trainer.model.cfg.guidance == 3.5, timeout=TIMEOUT_MS)
    assert view.guidance_scale() == 3.5 and view.guidance_label.text() == "guidance 3.50"
    assert not window.pane.panel.apply_button.isVisible()  # a live change is not a pending one
    # the slider denoises the same noise again at its scale
    seed = view.seed
    qtbot.waitUntil(lambda: view.table.rowCount() and "guidance 3.50" in view.table.item(
        view.table.rowCount() - 1, 3).text(), timeout=TIMEOUT_MS)
    assert view.seed == seed


def test_the_guidance_plots_show_what_the_classifier_says_of_each_trajectory(window, qtbot):
    from genstudio.engine import metrics
    from genstudio.engine.classifier import features_and_probs, load_classifier

    view, model, step = _paused_view(window, qtbot, "digits", width=8, timesteps=100, sample_steps=10)
    ds = window.run.info.dataset
    classifier = load_classifier(ds)
    real = features_and_probs(classifier, ds.x)[0]
    asked = np.repeat(np.arange(10), 8)   # each class, a row of 8
    for scale in (0.0, 3.0):
        view.guidance.setValue(round(scale * 4))
        qtbot.waitUntil(lambda s=scale: s in view.guidance_tried and len(view.frames) == view.total,
                        timeout=TIMEOUT_MS)
        feats, probs = features_and_probs(classifier, view.frames[-1])
        quality = view.guidance_tried[scale]
        assert quality["class_accuracy"] == pytest.approx(np.mean(probs.argmax(1) == asked))
        assert quality["fd"] == pytest.approx(metrics.frechet_distance(feats, real), rel=1e-6)
    scales, accuracy = view.guidance_items["class_accuracy"].getData()
    assert list(scales) == sorted(view.guidance_tried)
    assert list(accuracy) == [view.guidance_tried[g]["class_accuracy"] for g in scales]
    _, fd = view.guidance_items["fd"].getData()
    assert list(fd) == [view.guidance_tried[g]["fd"] for g in scales]
