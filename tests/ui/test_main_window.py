"""The studio window driven as a user would: train, watch, pause, step, resume, reset, close."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from genstudio.config import FAMILIES, default_experiment

TINY = {"gan": {"width": 16}, "vae": {"width": 32}, "diffusion": {"width": 16, "sample_steps": 5},
        "ar": {"n_embd": 16, "n_layer": 1, "batch_size": 16}}
DATA = {"gan": "ring8", "vae": "digits", "diffusion": "moons", "ar": "names"}
TIMEOUT_MS = 60_000


def tiny(model):
    exp = default_experiment(model, DATA[model])
    return replace(exp, family=replace(exp.family, **TINY[model]))


def start(window, qtbot, exp):
    """Reset to `exp` and press Train; return once the run is built and has reported ready (it may
    have trained, or even failed, by the time the test looks: wait for outcomes, not states)."""
    window.pane.panel.set_experiment(exp)
    window.pane.reset(start=True)
    qtbot.waitUntil(lambda: window.run.info is not None, timeout=TIMEOUT_MS)


def checkpoint(window, qtbot):
    """The trainer's whole state, asked for as a save asks (the loop may be in another process)."""
    from genstudio.engine.events import Checkpoint

    got, real = [], window.run.handlers[Checkpoint]
    window.run.handlers[Checkpoint] = got.append
    try:
        window.run.worker.request_checkpoint()
        qtbot.waitUntil(lambda: bool(got), timeout=TIMEOUT_MS)
    finally:
        window.run.handlers[Checkpoint] = real
    return got[0]


def settled_step(window, qtbot) -> int:
    """After a pause: the step once the trainer idles between steps and the window has every loss
    it reported. A pause lands between steps, so two checkpoints in a row at the same step say the
    loop has stopped; the losses before a checkpoint are sent before it."""
    previous, step = None, checkpoint(window, qtbot).step
    while step != previous:
        previous, step = step, checkpoint(window, qtbot).step
    qtbot.waitUntil(lambda: window.run.step == step, timeout=TIMEOUT_MS)
    return step


def paused_view(window, qtbot, exp, control: str, steps: int = 20):
    """`exp` trained past `steps` with its family's view on screen until `control` has answered, then
    paused: (view, the paused step), once the view's explorer has that step's weights."""
    start(window, qtbot, exp)
    window.pane.tabs.setCurrentIndex(1)
    view = window.pane.run_view
    qtbot.waitUntil(lambda: window.run.step > steps and view.shown_step.get(control) is not None, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    step = settled_step(window, qtbot)
    qtbot.waitUntil(lambda: window.run.weights_step == step, timeout=TIMEOUT_MS)
    return view, step


def running_model(window, qtbot):
    """A copy of the running model's weights, from a checkpoint, in eval mode, its convolutions
    channels-last as the explorer's are (the same arithmetic: another memory format rounds otherwise)."""
    from genstudio.models import build_model

    tensors = checkpoint(window, qtbot).state.tensors
    model = build_model(window.run.experiment, window.run.info.dataset)
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    return model.eval().to(memory_format=torch.channels_last)


@pytest.mark.parametrize("model", FAMILIES)
def test_train_pause_step_resume_reset(window, qtbot, model):
    start(window, qtbot, tiny(model))
    # curves and samples receive data while training
    qtbot.waitUntil(lambda: len(window.pane.curves.history.data) > 5 and len(window.pane.timeline.snapshots) >= 2,
                    timeout=TIMEOUT_MS)
    assert window.pane.curves.history.names == window.run.info.loss_names
    # pause: the step count stops moving
    window.pane.toggle_training()
    assert window.run.state == "paused"
    paused_at = settled_step(window, qtbot)
    qtbot.wait(300)
    assert window.run.step == paused_at
    # step: exactly one more
    window.pane.single_step("all")
    qtbot.waitUntil(lambda: window.run.step == paused_at + 1, timeout=TIMEOUT_MS)
    qtbot.wait(200)
    assert window.run.step == paused_at + 1
    # resume: moving again
    window.pane.toggle_training()
    assert window.run.state == "training"
    qtbot.waitUntil(lambda: window.run.step > paused_at + 5, timeout=TIMEOUT_MS)
    # reset: a fresh model at step 0, paused, with its untrained samples shown
    window.pane.reset()
    assert window.run.step == 0 and len(window.pane.curves.history.data) == 0
    qtbot.waitUntil(lambda: window.run.state == "paused" and len(window.pane.timeline.snapshots) == 1,
                    timeout=TIMEOUT_MS)
    assert window.pane.timeline.snapshots[0].step == 0


def test_sample_view_shows_the_model_output_and_scrubs(window, qtbot):
    start(window, qtbot, tiny("gan"))
    qtbot.waitUntil(lambda: len(window.pane.timeline.snapshots) >= 3, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    latest = window.pane.timeline.snapshots[-1]
    x, y = window.pane.samples.sample_item.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), latest.samples)
    # scrub to the first snapshot: the view and the curve cursor move with it
    window.pane.timeline.slider.setValue(0)
    first = window.pane.timeline.snapshots[0]
    x, y = window.pane.samples.sample_item.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), first.samples)
    assert window.pane.curves.cursor.isVisible() and window.pane.curves.cursor.value() == first.step
    assert not window.pane.timeline.live


def test_image_view_shows_the_snapshot_grid(window, qtbot):
    start(window, qtbot, tiny("vae"))
    qtbot.waitUntil(lambda: len(window.pane.timeline.snapshots) >= 2, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)
    from genstudio.engine.render import image_grid
    last = window.pane.timeline.snapshots[-1]
    assert np.array_equal(last.labels, np.repeat(np.arange(10), 8))   # a conditional VAE: a row of 8 per class
    expected = image_grid(np.asarray(last.samples), scale=1, pad=1, cols=8)
    np.testing.assert_array_equal(window.pane.samples.image_item.image, expected)


def test_live_learning_rate_edit(window, qtbot):
    start(window, qtbot, tiny("vae"))
    window.pane.panel.knobs["lr"].setValue(0.0042)

    def lr():
        return checkpoint(window, qtbot).state.meta["optimizers"][0]["param_groups"][0]["lr"]

    qtbot.waitUntil(lambda: lr() == pytest.approx(0.0042), timeout=TIMEOUT_MS)
    assert window.run.state == "training"


def break_vae_step(monkeypatch, at: int, breakage):
    """Make the VAE's `at`-th training step go wrong: breakage(losses) raises or returns bad losses."""
    from genstudio.models.vae import VAE

    real = VAE.train_step
    calls = {"n": 0}

    def step(self, draw):
        calls["n"] += 1
        losses = real(self, draw)
        return breakage(losses) if calls["n"] == at else losses

    monkeypatch.setattr(VAE, "train_step", step)


def _raise_oom(losses):
    raise RuntimeError("simulated out of memory")


@pytest.mark.training_thread  # the step is patched in this process
def test_worker_exception_shows_a_message_and_the_app_stays_up(window, qtbot, monkeypatch):
    break_vae_step(monkeypatch, 30, _raise_oom)
    start(window, qtbot, tiny("vae"))
    qtbot.waitUntil(lambda: window.run.state == "failed", timeout=TIMEOUT_MS)
    assert window.pane.banner.isVisible() and "simulated out of memory" in window.pane.banner.text()
    # still responsive: a timer fires, and training continues from where it stopped
    fired = []
    from PySide6.QtCore import QTimer
    QTimer.singleShot(10, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired), timeout=2000)
    stopped_at = window.run.step
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.step > stopped_at + 5, timeout=TIMEOUT_MS)
    assert not window.pane.banner.isVisible()


def test_bad_setting_is_a_message_not_a_crash(window, qtbot):
    start(window, qtbot, tiny("ar"))
    window.pane.toggle_training()
    window.pane.panel.knobs["n_head"].setValue(3)   # n_embd 16 is not divisible by 3
    window.pane.reset()
    assert window.pane.banner.isVisible() and "divisible" in window.pane.banner.text()


def test_close_while_training_stops_the_thread(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    win.show()
    start(win, qtbot, tiny("gan"))
    worker = win.run.worker
    win.close()
    assert not worker.is_alive()


def test_settings_remember_the_experiment(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow

    path = str(tmp_path / "s.ini")
    first = MainWindow(QSettings(path, QSettings.IniFormat))
    first.pane.panel.set_experiment(replace(tiny("diffusion"), seed=7))
    first.close()
    second = MainWindow(QSettings(path, QSettings.IniFormat))
    qtbot.addWidget(second)
    exp = second.pane.panel.experiment()
    assert (exp.model, exp.data, exp.seed, exp.family.width) == ("diffusion", "moons", 7, 16)
    second.close()


def test_curve_history_is_bounded():
    from genstudio.engine.events import LossPoints
    from genstudio.live.history import MAX_POINTS, CurveHistory
    from genstudio.ui.curves import ema

    hist = CurveHistory(("loss",))
    for i in range(50):
        steps = np.arange(i * 1000 + 1, i * 1000 + 1001)
        hist.extend(LossPoints(steps, steps / 100.0, {"loss": np.ones(1000)}))
    assert len(hist.data) <= MAX_POINTS
    assert hist.data[-1, 0] == 50_000 and np.all(np.diff(hist.data[:, 0]) > 0)
    np.testing.assert_allclose(ema(np.full(10, 3.0), 0.9), 3.0)  # debiased: a constant stays constant


@pytest.mark.parametrize("weight", [0.001, 0.6, 0.9, 0.999])
def test_smoothing_is_the_debiased_recursion(weight):
    """The block-wise closed form equals y_t = w y_(t-1) + (1 - w) x_t / (1 - w^(t+1)), also across
    block boundaries (9,000 points are several blocks for every weight)."""
    from genstudio.ui.curves import ema

    x = np.random.default_rng(0).normal(5.0, 2.0, 9000)
    y, want = 0.0, np.empty_like(x)
    for t, value in enumerate(x):
        y = weight * y + (1 - weight) * value
        want[t] = y / (1 - weight ** (t + 1))
    np.testing.assert_allclose(ema(x, weight), want, rtol=1e-9, atol=1e-9)


def test_nice_range_moves_in_coarse_steps():
    from genstudio.ui.curves import nice_range

    assert nice_range(0.0, 0.73) == (0.0, 0.8)
    assert nice_range(0.0, 0.74) == nice_range(0.0, 0.76)      # a growing curve rarely moves the axis
    low, high = nice_range(-3.2, 117.0)
    assert low <= -3.2 and high >= 117.0 and (high - low) < 2 * 120.2


def test_rapid_resets_while_training_are_safe(window, qtbot):
    """Each reset retires a running worker; none may crash the app or leak a running thread."""
    import gc

    for model in ("gan", "vae", "gan", "diffusion", "gan"):
        start(window, qtbot, tiny(model))
        qtbot.wait(150)
        gc.collect()  # a worker collected while its thread runs would crash here
    qtbot.waitUntil(lambda: not window.run.retired and window.run.step > 0, timeout=TIMEOUT_MS)
    assert window.run.state == "training"


def test_user_presets_persist(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow

    path = str(tmp_path / "s.ini")
    first = MainWindow(QSettings(path, QSettings.IniFormat))
    first.pane.panel.add_user_preset("my wide GAN", replace(tiny("gan"), seed=3))
    first.close()
    second = MainWindow(QSettings(path, QSettings.IniFormat))
    qtbot.addWidget(second)
    second.pane.panel.set_experiment(default_experiment("gan"))
    labels = [second.pane.panel.preset.itemText(i) for i in range(second.pane.panel.preset.count())]
    assert "★ my wide GAN" in labels
    second.pane.panel._preset_chosen(labels.index("★ my wide GAN"))
    exp = second.pane.panel.experiment()
    assert exp.seed == 3 and exp.family.width == 16
    second.close()


def test_timeline_exports_a_gif(window, qtbot, tmp_path):
    from PIL import Image

    start(window, qtbot, tiny("gan"))
    qtbot.waitUntil(lambda: len(window.pane.timeline.snapshots) >= 3, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    assert all(s.state is None for s in window.pane.timeline.snapshots)  # no weights ride on snapshots
    path = tmp_path / "timeline.gif"
    window.pane.files.export_timeline(str(path)).join(timeout=60)
    with Image.open(path) as gif:
        assert gif.n_frames == len(window.pane.timeline.snapshots)


def test_keyboard_space_right_ctrl_r(window, qtbot):
    from PySide6.QtCore import Qt

    start(window, qtbot, tiny("vae"))
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.run.state == "paused"
    before = settled_step(window, qtbot)
    qtbot.keyClick(window, Qt.Key_Right)
    qtbot.waitUntil(lambda: window.run.step == before + 1, timeout=TIMEOUT_MS)
    qtbot.keyClick(window, Qt.Key_R, Qt.ControlModifier)
    assert window.run.step == 0
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)
    qtbot.keyClick(window, Qt.Key_Space)
    assert window.run.state == "training"


@pytest.mark.training_thread  # the step is patched in this process
def test_divergence_pauses_with_a_message_and_needs_reset(window, qtbot, monkeypatch):
    break_vae_step(monkeypatch, 40, lambda losses: losses * float("nan"))
    start(window, qtbot, tiny("vae"))
    qtbot.waitUntil(lambda: window.run.state == "failed", timeout=TIMEOUT_MS)
    assert "NaN" in window.pane.banner.text() and "step 40" in window.pane.banner.text()
    window.pane.toggle_training()  # Train after a divergence rebuilds rather than continuing NaN weights
    qtbot.waitUntil(lambda: window.run.state == "training", timeout=TIMEOUT_MS)
    assert not window.pane.banner.isVisible()


def test_data_without_a_preset_offers_its_own_defaults(window):
    from genstudio.config import default_experiment

    panel = window.pane.panel
    panel.set_experiment(default_experiment("diffusion", "moons"))
    assert panel.preset.currentText() == "Defaults for this data"
    panel.set_knob("width", 16)
    panel._preset_chosen(panel.preset.currentIndex())
    exp = panel.experiment()
    assert (exp.data, exp.family.width) == ("moons", default_experiment("diffusion", "moons").family.width)


def test_deferred_views_are_built_after_the_first_paint(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat), defer_views=True)
    qtbot.addWidget(win)
    assert not win.views_ready and not hasattr(win, "curves")
    win.redraw()  # the redraw timer may fire before the plots exist
    with qtbot.waitSignal(win.views_built, timeout=10_000):
        win.show()
    assert win.views_ready
    qtbot.waitUntil(lambda: (win.pane.curves.isVisible() and win.pane.samples.isVisible()
                             and win.pane.timeline.isVisible()))
    win.close()


def test_last_sessions_data_that_is_gone_is_not_restored(qtbot, tmp_path):
    import numpy as np
    from PySide6.QtCore import QSettings

    from genstudio.config import default_experiment
    from genstudio.ui.main_window import MainWindow

    np.save(tmp_path / "gone.npy", np.zeros((20, 8, 8), np.uint8))
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    settings.setValue("experiment", default_experiment("vae", str(tmp_path / "gone.npy")).to_json())
    (tmp_path / "gone.npy").unlink()
    win = MainWindow(settings)
    qtbot.addWidget(win)
    assert win.pane.panel.experiment().data == "ring8"
    assert "gone" in win.statusBar().currentMessage()
    win.close()
