"""The VAE latent lab shows exactly what the running model computes, and views follow the run."""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from genstudio.ui.views.vae import prior_outline

from .test_main_window import TIMEOUT_MS, running_model, settled_step, start, tiny


def _lab_on_a_paused_vae(window, qtbot, latent_dim=2):
    """A VAE trained a little, paused, its lab on screen and answered for the paused weights."""
    exp = tiny("vae")
    start(window, qtbot, replace(exp, family=replace(exp.family, latent_dim=latent_dim)))
    window.pane.tabs.setCurrentIndex(1)
    lab = window.pane.run_view
    qtbot.waitUntil(lambda: window.run.step > 30 and lab.map is not None, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    step = settled_step(window, qtbot)
    qtbot.waitUntil(lambda: window.run.weights_step == step and window.run.explorer.weights_step == step,
                    timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: lab.shown_step.get("map") == step and lab.shown_step.get("code") == step,
                    timeout=TIMEOUT_MS)
    return lab, running_model(window, qtbot)


def _decode(model, codes, label=0):
    """The decoder's mean for `codes`, as class `label` (the default VAE on digits is conditional)."""
    z = torch.as_tensor(np.asarray(codes, np.float32))
    assert model.classes == 10
    with torch.no_grad():
        return model.decode_mean(z, torch.full((len(z),), label)).numpy()


def test_a_slider_move_shows_the_decoder_output_for_that_code(window, qtbot):
    lab, model = _lab_on_a_paused_vae(window, qtbot)
    lab.pages.setCurrentIndex(1)
    lab.set_slider(1, 1.25)
    expected_code = lab.code.copy()
    assert expected_code[1] == np.float32(1.25)
    want = _decode(model, expected_code[None])
    qtbot.waitUntil(lambda: lab.slider_code_view.shown is not None
                    and np.allclose(lab.slider_code_view.shown, want, atol=1e-5), timeout=TIMEOUT_MS)
    assert lab.slider_labels[1].text() == "z1  +1.25"
    assert not lab.message.text()


def test_the_map_shows_the_encoder_means_and_a_click_decodes_there(window, qtbot):
    lab, model = _lab_on_a_paused_vae(window, qtbot)
    ds = window.run.info.dataset
    with torch.no_grad():   # each held-out example encoded with its own class
        mu, _ = model.encode(model.encode_data(ds, "held_out"), torch.from_numpy(ds.held_out_labels))
    np.testing.assert_allclose(lab.map["means"], mu.numpy(), rtol=1e-4, atol=1e-5)
    labels = ds.held_out_labels
    for g, item in enumerate(lab.map_groups):  # each label's points, in its colour
        x, y = item.getData()
        np.testing.assert_allclose(np.column_stack([x, y]), mu.numpy()[labels == g], rtol=1e-4, atol=1e-5)
    # the prior's Gaussians the explorer sent, each drawn at two standard deviations (class 0's of a
    # conditional model's fitted prior; another class picked, its own)
    prior = lab.map["prior"]
    assert prior["weights"].shape == (10, 3)
    for group in (0, 7):
        lab.class_picker.setCurrentIndex(group)
        x, y = lab.prior_outline.getData()
        want_x, want_y = prior_outline(prior["centres"][group], prior["covs"][group], prior["weights"][group])
        np.testing.assert_allclose(x, want_x, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5)
    centre, cov = prior["centres"][7][0], prior["covs"][7][0]
    ring = np.column_stack([x[:49], y[:49]]) - centre        # on the ellipse: Mahalanobis distance 2
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", ring, np.linalg.inv(cov), ring), 4, rtol=1e-3)
    lab.class_picker.setCurrentIndex(0)
    lab.click_map(-0.75, 1.5)
    want = _decode(model, [[-0.75, 1.5]])
    qtbot.waitUntil(lambda: lab.code_view.shown is not None
                    and np.allclose(lab.code_view.shown, want, atol=1e-5), timeout=TIMEOUT_MS)
    mx, my = lab.map_marker.getData()
    assert (mx[0], my[0]) == (-0.75, 1.5)


def test_a_hand_in_the_lab_holds_the_curves_redraws_until_it_stops(window, qtbot, monkeypatch):
    """While a hand clicks in the lab, the curves redraw at most once a HELD_REDRAW_S (a redraw would
    delay the picture the hand waits for); once the hand has stopped for HOLD_S, at every tick again."""
    from genstudio.ui.run_pane import HELD_REDRAW_S
    from genstudio.ui.views.base import HOLD_S

    lab, _ = _lab_on_a_paused_vae(window, qtbot)
    pane = window.pane
    drawn = []
    monkeypatch.setattr(pane.curves, "redraw", lambda: drawn.append(time.perf_counter()))
    began = time.perf_counter()
    while time.perf_counter() - began < 1.5 * HELD_REDRAW_S:   # clicks, and a redraw tick after each
        lab.click_map(0.1, 0.2)
        pane.redraw()
        qtbot.wait(20)
    assert lab.interacting() and 1 <= len(drawn) <= 2
    qtbot.wait(round(HOLD_S * 1000) + 50)
    assert not lab.interacting()
    held = len(drawn)
    pane.redraw()
    pane.redraw()
    assert len(drawn) == held + 2


def test_another_class_decodes_the_same_code_as_that_class(window, qtbot):
    lab, model = _lab_on_a_paused_vae(window, qtbot)
    assert lab.class_picker.isVisibleTo(lab) and lab.class_picker.count() == 10
    lab.click_map(0.5, -0.25)
    qtbot.waitUntil(lambda: lab.code_view.shown is not None
                    and np.allclose(lab.code_view.shown, _decode(model, [[0.5, -0.25]], 0), atol=1e-5),
                    timeout=TIMEOUT_MS)
    lab.class_picker.setCurrentIndex(7)
    want = _decode(model, [[0.5, -0.25]], 7)
    assert not np.allclose(want, _decode(model, [[0.5, -0.25]], 0), atol=1e-3)
    qtbot.waitUntil(lambda: np.allclose(lab.code_view.shown, want, atol=1e-5), timeout=TIMEOUT_MS)


def test_interpolation_ends_are_the_two_examples(window, qtbot):
    lab, model = _lab_on_a_paused_vae(window, qtbot, latent_dim=4)
    lab.pages.setCurrentIndex(2)
    lab.end_a.setValue(3)
    lab.end_b.setValue(7)
    want = _decode(model, lab.map["means"][[3, 7]])
    qtbot.waitUntil(lambda: lab.strip.shown is not None and len(lab.strip.shown) == 8
                    and np.allclose(lab.strip.shown[[0, -1]], want, atol=1e-5), timeout=TIMEOUT_MS)


@pytest.mark.training_thread  # it reads the trainer's model settings
def test_beta_edited_in_the_lab_reaches_the_trainer_and_the_panel(window, qtbot):
    lab, model = _lab_on_a_paused_vae(window, qtbot)
    lab.pages.setCurrentIndex(3)
    lab.beta.setValue(4.0)
    assert window.pane.panel.knobs["beta"].value() == 4.0
    window.pane.single_step("all")  # commands are applied between steps
    qtbot.waitUntil(lambda: window.run.worker.trainer.model.cfg.beta == 4.0, timeout=TIMEOUT_MS)
    assert not window.pane.panel.apply_button.isVisible()  # a live change is not a pending one


def test_a_family_change_mid_run_keeps_the_running_view_until_applied(window, qtbot):
    start(window, qtbot, tiny("vae"))
    qtbot.waitUntil(lambda: window.run.step > 20, timeout=TIMEOUT_MS)
    vae_view, gan_view = window.pane.family_views["vae"], window.pane.family_views["gan"]
    routed = []
    gan_view.on_snapshot = lambda snap: routed.append(snap)
    gan_view.on_metrics = lambda event: routed.append(event)
    window.pane.panel.set_experiment(tiny("gan"))
    window.pane.panel.changed.emit()
    assert window.pane.panel.apply_button.isVisible()
    assert window.pane.family_tab.currentWidget() is vae_view and window.run.experiment.model == "vae"
    snapshots = len(window.pane.timeline.snapshots)
    qtbot.waitUntil(lambda: len(window.pane.timeline.snapshots) > snapshots + 1, timeout=TIMEOUT_MS)
    assert window.run.state == "training" and routed == []  # the VAE trains on and nothing reaches the GAN's view
    window.pane.panel.apply_button.click()
    assert window.pane.family_tab.currentWidget() is gan_view and not window.pane.panel.apply_button.isVisible()
    qtbot.waitUntil(lambda: window.run.info is not None and window.run.experiment.model == "gan", timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(routed) > 0, timeout=TIMEOUT_MS)


def test_the_lab_says_when_the_weights_diverged(window, qtbot):
    from genstudio.engine.events import Weights

    lab, model = _lab_on_a_paused_vae(window, qtbot)
    state = {k: v.numpy() * np.nan for k, v in model.explorer_state().items()}
    window.run._weights(Weights(window.run.step, window.run.seconds, state))
    qtbot.waitUntil(lambda: "not finite" in lab.message.text(), timeout=TIMEOUT_MS)


def test_vae_lesson_presets_set_up_their_lesson(window):
    from genstudio.config import default_experiment

    panel = window.pane.panel
    panel.set_experiment(default_experiment("vae", "digits"))
    labels = [panel.preset.itemText(i) for i in range(panel.preset.count())]
    panel._preset_chosen(labels.index("VAE lesson: high beta (2): tidy map, blurry rebuilds"))
    exp = panel.experiment()
    assert (exp.data, exp.family.latent_dim, exp.family.beta) == ("digits", 2, 2.0)
    labels = [panel.preset.itemText(i) for i in range(panel.preset.count())]
    panel._preset_chosen(next(i for i, t in enumerate(labels) if "factors of shapes" in t))
    exp = panel.experiment()
    assert (exp.data, exp.family.latent_dim) == ("shapes", 5)
