"""The held-out curve in the window: what it plots is what the trainer measured; the gap is labelled;
the best step is starred, marked on the timeline, and can be jumped to and forked from."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from genstudio.config import default_experiment

from .test_files import open_experiment
from .test_fork import kept_state
from .test_main_window import TIMEOUT_MS, settled_step, start


def overfitting_experiment(tmp_path):
    """A big VAE on 27 training images of random black and white pixels: it learns them by heart, so
    its held-out loss turns up within seconds."""
    path = tmp_path / "noise.npy"
    np.save(path, ((np.random.default_rng(0).random((30, 8, 8)) > 0.5) * 255).astype(np.uint8))
    exp = default_experiment("vae", str(path), seed=0)
    return replace(exp, family=replace(exp.family, width=256, depth=2, lr=3e-3, batch_size=16))


def test_the_window_plots_the_measured_held_out_curve_and_jumps_to_its_best_step(window, qtbot, tmp_path):
    start(window, qtbot, overfitting_experiment(tmp_path))
    history = window.run.history
    qtbot.waitUntil(lambda: len(history.held_out) >= 4 and history.best_step is not None
                    and history.best_step < history.held_out[-1].step, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)
    curves = window.pane.curves
    curves.smoothing.setValue(80)   # smoothing is for the per-step losses only
    curves.redraw()
    measures = history.held_out
    x, y = curves.held_out_item.getData()
    assert np.array_equal(x, [m.step for m in measures])
    assert np.array_equal(y, [m.held_out for m in measures])
    assert np.array_equal(curves.train_measure_item.getData()[1], [m.train for m in measures])
    best = next(m for m in measures if m.step == history.best_step)
    assert best.held_out == min(m.held_out for m in measures)
    star_x, star_y = curves.best_item.getData()
    assert list(star_x) == [best.step] and list(star_y) == [best.held_out]
    last = measures[-1]
    label = curves.gap_label.text()
    assert f"Held-out {last.held_out:#.4g}" in label and f"training items {last.train:#.4g}" in label
    assert f"gap {last.held_out - last.train:+#.3g}" in label and f"best at step {best.step:,}" in label
    assert last.held_out - last.train > 0, "a model that learnt its training items by heart"
    curves.log_y.setChecked(True)   # the star is placed in the view's log coordinates, the lines log themselves
    curves.redraw()
    assert list(curves.best_item.getData()[1]) == [np.log10(best.held_out)]
    assert np.allclose(curves.gap_bracket.getData()[1], np.log10([last.train, last.held_out]))
    curves.log_y.setChecked(False)

    timeline = window.pane.timeline
    assert timeline.best.isEnabled()
    timeline.best.click()
    shown = timeline.shown()
    assert shown.step == best.step, "the held-out curve is measured right after a snapshot"
    assert timeline.fork.isEnabled() and best.step in timeline.forkable
    kept = kept_state(window, qtbot, best.step)
    assert kept.step == best.step


def test_an_opened_file_shows_its_held_out_curve(window, qtbot, tmp_path):
    start(window, qtbot, overfitting_experiment(tmp_path))
    qtbot.waitUntil(lambda: len(window.run.history.held_out) >= 2, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)
    measures = list(window.run.history.held_out)
    path = str(tmp_path / "run.genstudio")
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS) as saved:
        window.pane.files.save_to(path)
    assert saved.args[1] is True
    window.pane.reset()
    qtbot.waitUntil(lambda: window.run.state == "paused" and window.run.step == 0, timeout=TIMEOUT_MS)
    assert not window.run.history.held_out
    assert open_experiment(window, qtbot, path)
    qtbot.waitUntil(lambda: window.run.state == "paused" and window.run.info is not None, timeout=TIMEOUT_MS)
    assert window.run.history.held_out[:len(measures)] == measures
    window.pane.curves.redraw()
    assert np.array_equal(window.pane.curves.held_out_item.getData()[1][:len(measures)],
                          [m.held_out for m in measures])


def test_the_gap_label_stays_inside_the_plot_when_the_last_measure_is_near_its_left_edge(qtbot):
    """A held-out measure early in a long curve: the gap's text goes right of its bracket, not off the
    plot's left edge; at the curve's end it goes left of it."""
    from genstudio.engine.events import HeldOut, LossPoints
    from genstudio.live.history import CurveHistory
    from genstudio.ui.curves import CurvesView

    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()
    for steps in (300, 20):   # the loss curve runs to step 300, then to step 20 only
        history = CurveHistory(("loss",), [HeldOut(19, 2.0, 0.38, 0.3792, 19)])
        history.extend(LossPoints(np.arange(1, steps + 1), np.arange(1, steps + 1) * 0.1,
                              {"loss": np.linspace(1.5, 0.38, steps)}))
        view.set_measure("loss")
        view.set_history(history)
        view.redraw()
        qtbot.wait(50)
        left, right = view.plot.getViewBox().viewRange()[0]
        text = view.gap_text.mapRectToView(view.gap_text.boundingRect())
        assert left <= text.left() and text.right() <= right, (steps, text, left, right)
        assert (text.left() > 19) == (steps == 300)   # right of the bracket near the left edge, else left

