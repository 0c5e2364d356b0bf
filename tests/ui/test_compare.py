"""Two runs in one window: the shared timeline shows each run's snapshot at the chosen step, the
curves overlay a colour per run, Space drives both; and the runs table (differing settings, CSV,
reopen)."""
from __future__ import annotations

import csv
import io
from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from genstudio.config import default_experiment
from genstudio.live.records import differing_settings, run_log
from genstudio.ui.curves import ema

from .test_main_window import TIMEOUT_MS, settled_step


def two_gans(window, qtbot, lr_b: float):
    """A small GAN on ring8 and a second run beside it with learning rate lr_b, both trained past
    step 200 and paused with every loss and snapshot in."""
    exp = default_experiment("gan", "ring8")
    window.pane.panel.set_experiment(replace(exp, family=replace(exp.family, width=32)))
    window.pane.reset()
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)
    other = window.run_beside()
    other.panel.set_knob("lr", lr_b)
    other.reset()
    qtbot.waitUntil(lambda: other.run.state == "paused", timeout=TIMEOUT_MS)
    assert other.run.experiment.family.lr == lr_b
    qtbot.keyClick(window, Qt.Key_Space)          # Space trains both
    qtbot.waitUntil(lambda: window.run.state == other.run.state == "training", timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.run.step > 200 and other.run.step > 200
                    and min(len(window.pane.timeline.snapshots), len(other.timeline.snapshots)) > 4, timeout=TIMEOUT_MS)
    qtbot.keyClick(window, Qt.Key_Space)          # and pauses both
    assert window.run.state == other.run.state == "paused"
    settled_step(window, qtbot)
    settled_step(other, qtbot)
    window.redraw()
    return other


def test_the_shared_timeline_shows_both_runs_snapshots_at_the_chosen_step(window, qtbot, tmp_path):
    other = two_gans(window, qtbot, lr_b=3e-3)
    comparison = window.comparison
    assert other.window() is window and not window.pane.timeline.isVisible() and not other.timeline.isVisible()
    shared = comparison.timeline
    for by in (0, 1):                              # by step, then by training seconds
        shared.by.setCurrentIndex(by)
        window.redraw()
        assert shared.live and shared.slider.maximum() > 0
        for fraction in (0.3, 0.7):
            shared.slider.setValue(int(shared.slider.maximum() * fraction))
            x = shared.position()
            for pane in (window.pane, other):
                key = [s.seconds if by else s.step for s in pane.timeline.snapshots]
                expected = [s for s, k in zip(pane.timeline.snapshots, key) if k <= x][-1]
                shown = pane.timeline.shown()
                assert shown is expected and pane.shown_snapshot is expected
                drawn = np.column_stack(pane.samples.sample_item.getData())
                assert np.allclose(drawn, expected.samples)    # the view shows that snapshot's samples
        shared.slider.setValue(shared.slider.maximum())
        assert all(pane.timeline.live for pane in (window.pane, other))
    window.pane.tabs.setCurrentIndex(1)                 # the family views side by side, on the same page
    assert other.tabs.currentIndex() == 1 and other.family_tab.currentWidget().isVisible()
    window.pane.family_views["gan"].pages.setCurrentIndex(1)
    assert other.family_views["gan"].pages.currentIndex() == 1

    from genstudio.engine import experiment_file
    path = str(tmp_path / "second.genstudio")        # the second run saves (its header's Save…) with its fork points
    with qtbot.waitSignal(other.files.job_done, timeout=TIMEOUT_MS):
        other.files.save_to(path)
    doc = experiment_file.load(path)
    assert doc.state.step == other.run.step and [s.step for s in doc.fork_points] == sorted(other.timeline.forkable)
    window.end_comparison()


def test_the_curves_overlay_a_colour_per_run_and_the_user_can_change_it(window, qtbot):
    other = two_gans(window, qtbot, lr_b=3e-3)
    curves = window.pane.curves
    names = window.pane.curves.history.names
    items = curves.run_items
    assert len(items) == 2 * len(names) and not any(item.isVisible() for item in curves.items)
    labels = [item.name() for item, *_ in items]
    assert labels == [f"run {w.run.record.number} · {n}" for w in (window, other) for n in names]
    weight = curves.smoothing.value() / 100
    for item, view, column, _ in items:
        data = view.history.data
        x, y = item.getOriginalDataset()
        assert np.array_equal(x, data[:, 0]) and np.allclose(y, ema(data[:, 2 + column], weight))
    colours = {item.opts["pen"].color().name() for item, run, *_ in items if run is other.run}
    assert colours == {"#e8730e"}
    window.comparison.headers[1].set_colour("#2ca02c")
    window.comparison.overlay_curves()
    pens = [item.opts["pen"] for item, run, *_ in curves.run_items if run is other.run]
    assert {p.color().name() for p in pens} == {"#2ca02c"} and pens[0].style() != pens[1].style()
    assert other.samples.sample_item.opts["brush"].color().name() == QColor("#2ca02c").name()
    other.reset()                                   # its loss terms are gone until it is built again
    window.redraw()
    qtbot.waitUntil(lambda: other.run.state == "paused", timeout=TIMEOUT_MS)
    window.redraw()
    assert len(curves.run_items) == 2 * len(names) and curves.run_items[-1][0].name().startswith(
        f"run {other.run.record.number} ·")
    window.end_comparison()
    assert window.comparison is None and all(item.isVisible() for item in curves.items)
    assert window.pane.timeline.isVisible() and window.pane.splitter.widget(0).isVisible()
    assert window.pane.right.widget(0) is window.pane.tabs and window.pane.right.indexOf(window.pane.curves) == 1


def test_the_runs_table_lists_every_run_and_reopens_and_exports_them(window, qtbot, tmp_path):
    first = len(run_log().records)
    other = two_gans(window, qtbot, lr_b=3e-3)
    a, b = window.run.record, other.run.record
    assert (a.number, b.number) == (first + 1, first + 2)
    table = window.show_runs_table()
    header, rows = run_log().table()
    assert "lr" in header and header.index("steps") < header.index("d_loss")
    assert [int(r[0]) for r in rows][-2:] == [a.number, b.number]   # the run reset before training left no row
    row_a, row_b = rows[-2], rows[-1]
    assert row_a[header.index("lr")] == "0.001" and row_b[header.index("lr")] == "0.003"
    assert int(row_b[header.index("steps")]) == other.run.step
    mean = window.pane.curves.history.data[-100:, 2].mean()         # the final loss: the last 100 steps' mean
    assert abs(float(row_a[header.index("d_loss")]) - mean) <= 1e-3 * abs(mean)
    assert table.table.rowCount() == len(rows) and table.table.item(len(rows) - 1, 0).text() == str(b.number)

    path = tmp_path / "runs.csv"
    assert table.export(str(path), [a.number, b.number])
    written = list(csv.reader(io.StringIO(path.read_text())))
    assert written[0] == header and [r[0] for r in written[1:]] == [str(a.number), str(b.number)]

    window.reopen_run(a)                                         # live here: nothing changes
    assert "on screen" in window.last_problem and window.comparison.guest is other
    window.problem_box.close()
    window.end_comparison()                                      # run b ends, its row stays
    assert b.live_run() is None and b.step > 200
    again = window.reopen_run(b)
    qtbot.waitUntil(lambda: again.run.state == "paused", timeout=TIMEOUT_MS)
    assert window.comparison.guest is again and again.run.experiment == b.experiment and again.run.step == 0
    assert again.run.record.origin == f"run {b.number} again"
    table.close()
    window.end_comparison()


def test_differing_settings_name_only_what_differs():
    gan = default_experiment("gan", "ring8")
    faster = replace(gan, family=replace(gan.family, lr=0.003))
    assert differing_settings([gan, faster]) == ["lr"]
    assert differing_settings([gan, gan]) == []
    vae = default_experiment("vae", "ring8")
    assert {"model", "beta", "d_steps"} <= set(differing_settings([gan, vae]))


def test_a_saved_run_reopens_from_its_file_and_an_untrained_run_leaves_no_row(window, qtbot, tmp_path):
    exp = default_experiment("gan", "ring8")
    window.pane.panel.set_experiment(replace(exp, family=replace(exp.family, width=32)))
    window.pane.reset(start=True)
    qtbot.waitUntil(lambda: window.run.step > 100, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    step = settled_step(window, qtbot)
    path = str(tmp_path / "saved.genstudio")
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS):
        window.pane.files.save_to(path)
    saved = window.run.record
    assert saved.path == path
    rows = len(run_log().records)
    window.pane.reset()                                  # a new run, never trained ...
    window.pane.panel.set_knob("lr", 0.002)
    window.pane.reset()                                  # ... replaced: it leaves no row
    assert len(run_log().records) == rows + 1 and saved.live_run() is None and saved.document is None
    assert saved.step == step and saved.losses                # how far it got, kept
    again = window.reopen_run(saved)
    qtbot.waitUntil(lambda: again.run.state == "paused", timeout=TIMEOUT_MS)
    assert again.run.step == step and again.run.experiment == saved.experiment
    assert again.run.record.origin == f"run {saved.number} again (saved.genstudio)"
    window.end_comparison()


def test_closing_the_window_stops_both_runs(window, qtbot):
    other = two_gans(window, qtbot, lr_b=2e-3)
    qtbot.keyClick(window, Qt.Key_Space)
    qtbot.waitUntil(lambda: other.run.state == "training", timeout=TIMEOUT_MS)
    workers = [window.run.worker, other.run.worker]
    window.close()
    assert window.comparison is None and not any(w.is_alive() for w in workers)


def test_presenter_mode_shows_and_exports_both_runs(window, qtbot, tmp_path):
    from PIL import Image

    other = two_gans(window, qtbot, lr_b=2e-3)
    presenter = window.presenter
    assert presenter.current_figure() is window.comparison.columns
    presenter.set_panel_visible("Timeline", False)
    assert not window.comparison.timeline.isVisible() and not window.pane.timeline.isVisible()
    presenter.set_panel_visible("Timeline", True)
    assert window.comparison.timeline.isVisible()
    path = tmp_path / "both.png"
    assert presenter.export(presenter.current_figure(), str(path))
    width = Image.open(path).size[0]
    assert width == 2 * window.comparison.columns.width() and other.isVisible()   # both columns, at 2x
    window.end_comparison()


def test_a_slot_exception_is_caught_where_qt_would_only_print_it(qtbot):
    """The check the next test relies on can fail: an exception raised in a slot is recorded."""
    from PySide6.QtWidgets import QPushButton

    from genstudio.ui.threads import SlotErrors

    button = QPushButton()
    qtbot.addWidget(button)
    button.clicked.connect(lambda: 1 / 0)
    with qtbot.capture_exceptions() as captured, SlotErrors() as slots:
        button.click()
    assert slots.errors == ["ZeroDivisionError: division by zero"] and len(captured) == 1


def test_after_a_comparison_ends_nothing_it_connected_still_fires(window, qtbot):
    """Its connections to the first run's state and tabs are undone: training, pausing and switching
    tabs and pages afterwards raise nothing in a slot."""
    from genstudio.ui.threads import SlotErrors

    exp = default_experiment("vae", "ring8")
    window.pane.panel.set_experiment(replace(exp, family=replace(exp.family, width=32)))
    window.pane.reset()
    other = window.run_beside()
    qtbot.waitUntil(lambda: window.run.state == other.run.state == "paused", timeout=TIMEOUT_MS)
    window.end_comparison()
    qtbot.waitUntil(lambda: not other.run.retired, timeout=TIMEOUT_MS)
    with SlotErrors() as slots:
        qtbot.keyClick(window, Qt.Key_Space)
        qtbot.waitUntil(lambda: window.run.state == "training" and window.run.step > 20, timeout=TIMEOUT_MS)
        qtbot.keyClick(window, Qt.Key_Space)
        window.pane.tabs.setCurrentIndex(1)
        pages = window.pane.run_view.pages
        for page in range(pages.count()):
            pages.setCurrentIndex(page)
            qtbot.wait(50)
        window.pane.tabs.setCurrentIndex(0)
        qtbot.wait(300)
    assert window.run.state == "paused" and slots.errors == []
    assert window.comparison is None and window.pane.timeline.isVisible() and window.pane.settings_shown()


def test_a_second_run_leaves_no_widgets_behind(window, qtbot):
    """pyqtgraph's menus and a pane's status widgets have no parent: the pane deletes them itself."""
    import gc

    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    def widgets_after(replacements: int) -> int:
        for _ in range(replacements):
            window.compare_with()
            window.end_comparison()
        for _ in range(2):   # the comparison goes first, then the pane it held
            QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
            QApplication.processEvents()
            gc.collect()
        return len(QApplication.allWidgets())

    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    before = widgets_after(1)
    assert widgets_after(3) <= before


def test_an_ended_comparison_leaves_no_pane_run_or_comparison_alive(window, qtbot):
    """An hour of lessons opens and closes second runs: each one's pane, its run and the comparison
    itself are freed when it closes (a leftover keeps every plot of the second run in memory)."""
    import gc

    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    from genstudio.live.run import Run
    from genstudio.ui.compare import Comparison
    from genstudio.ui.run_pane import RunPane

    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    for _ in range(3):
        window.compare_with()
        window.end_comparison()
    QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QApplication.processEvents()
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) in (RunPane, Comparison, Run)]
    assert {id(o) for o in alive} == {id(window.pane), id(window.run)}, alive
