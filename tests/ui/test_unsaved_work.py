"""No training lost to a click: Reset, Apply, Open, a lesson and closing the window ask first when the
run has trained since it was last saved (Save / Discard / Cancel, with "Don't ask again")."""
from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import QMessageBox

from genstudio.engine import experiment_file
from genstudio.lessons import builtin_lessons

from .test_files import CORPUS, _close_problem, _paused_after, open_experiment
from .test_main_window import TIMEOUT_MS, settled_step, tiny


@pytest.fixture
def trained(window, qtbot):
    """A paused GAN with unsaved training, the question turned on: (window, step)."""
    step = _paused_after(window, qtbot, tiny("gan"), 5)
    window.unsaved_work.set_asking(True)
    assert window.run.unsaved
    return window, step


def answer(window, qtbot, button, dont_ask: bool = False) -> None:
    box = window.unsaved_work.box
    assert box is not None and box.isVisible(), "no question was asked"
    assert f"trained to step {window.run.step:,}" in box.text()
    box.checkBox().setChecked(dont_ask)
    box.button(button).click()
    qtbot.waitUntil(lambda: window.unsaved_work.box is None, timeout=TIMEOUT_MS)


def test_reset_asks_cancel_keeps_the_run_discard_resets(trained, qtbot):
    window, step = trained
    worker = window.run.worker
    window.pane.reset_button.click()
    answer(window, qtbot, QMessageBox.Cancel)
    assert window.run.worker is worker and window.run.step == step and window.run.unsaved
    window.pane.reset_button.click()
    answer(window, qtbot, QMessageBox.Discard)
    qtbot.waitUntil(lambda: window.run.worker is not worker and window.run.state == "paused", timeout=TIMEOUT_MS)
    assert window.run.step == 0 and not window.run.unsaved
    window.pane.reset_button.click()        # nothing trained since: no question
    assert window.unsaved_work.box is None


def test_save_writes_the_file_first_then_resets(trained, qtbot, tmp_path):
    window, step = trained
    path = str(tmp_path / "kept.genstudio")
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS):
        window.pane.files.save_to(path)      # the file the next Save writes to
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.unsaved, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)
    window.pane.panel.set_knob("lr", 0.003)
    window.pane.panel.apply_requested.emit()  # Apply: a new model from the new settings
    worker = window.run.worker
    answer(window, qtbot, QMessageBox.Save)
    qtbot.waitUntil(lambda: window.run.worker is not worker and window.run.step == 0, timeout=TIMEOUT_MS)
    saved = experiment_file.load(path)
    assert saved.state.step > step and saved.experiment.family.lr != 0.003


def test_dont_ask_again_sticks_and_the_menu_turns_it_back_on(trained, qtbot):
    window, step = trained
    window.pane.reset_asking()
    answer(window, qtbot, QMessageBox.Discard, dont_ask=True)
    assert not window.unsaved_work.asking
    _paused_after(window, qtbot, tiny("gan"), 5)
    worker = window.run.worker
    window.pane.reset_asking()               # no question now
    assert window.unsaved_work.box is None and window.run.worker is not worker
    action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text().startswith("Ask before"))
    action.setChecked(False)
    action.setChecked(True)
    assert window.unsaved_work.asking


def test_closing_the_window_asks(trained, qtbot):
    window, step = trained
    window.close()
    answer(window, qtbot, QMessageBox.Cancel)
    assert window.isVisible() and window.run.worker is not None and window.run.step == step
    window.close()
    answer(window, qtbot, QMessageBox.Discard)
    assert not window.isVisible()


def test_opening_asks_only_once_the_file_is_good(trained, qtbot, tmp_path):
    window, step = trained
    bad = os.path.join(CORPUS, "experiments", sorted(os.listdir(os.path.join(CORPUS, "experiments")))[0])
    assert not open_experiment(window, qtbot, bad)
    assert window.unsaved_work.box is None and window.run.step == step   # a bad file: a message, no question
    _close_problem(window)
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS):
        window.pane.files.save_to(str(tmp_path / "a.genstudio"))
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.step > step + 3, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)   # (steps taken before the pause still report after it)
    assert open_experiment(window, qtbot, str(tmp_path / "a.genstudio"))
    answer(window, qtbot, QMessageBox.Discard)
    qtbot.waitUntil(lambda: window.run.step == step and window.run.state == "paused", timeout=TIMEOUT_MS)
    assert not window.run.unsaved


def test_a_lesson_asks_before_it_replaces_the_run(trained, qtbot):
    window, step = trained
    lesson = builtin_lessons()[0]
    assert window.lessons.open_file(lesson.path)
    assert not window.lessons.isVisible() and window.run.step == step
    answer(window, qtbot, QMessageBox.Discard)
    assert window.lessons.isVisible() and window.lessons.lesson.title == lesson.title
