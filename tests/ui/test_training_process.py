"""Training in a child process (live/training_process.py): what the window sees when the child dies,
that no child outlives the window, and that a run's data set is handed to the next run. Each test runs
with the forkserver (Linux, macOS) and with "spawn", the only start method Windows has."""
from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

from genstudio.live import forkserver, training_process

from .test_main_window import TIMEOUT_MS, checkpoint, settled_step, start, tiny


@pytest.fixture(autouse=True, params=["forkserver", "spawn"])
def start_method(request, monkeypatch):
    if request.param == "spawn":
        monkeypatch.setattr(forkserver, "_context", multiprocessing.get_context("spawn"))
    assert forkserver.context().get_start_method() == request.param
    return request.param


def test_train_pause_step_resume_and_reset(window, qtbot):
    start(window, qtbot, tiny("gan"))
    qtbot.waitUntil(lambda: window.run.step > 5, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    step = settled_step(window, qtbot)
    window.pane.step_button.click()
    qtbot.waitUntil(lambda: window.run.step == step + 1, timeout=TIMEOUT_MS)
    assert checkpoint(window, qtbot).step == step + 1
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.step > step + 5, timeout=TIMEOUT_MS)
    first = window.run.worker._process.pid
    window.pane.reset(start=True)
    qtbot.waitUntil(lambda: window.run.info is not None and window.run.step > 5, timeout=TIMEOUT_MS)
    assert window.run.worker._process.pid != first


def test_a_killed_training_process_is_one_message_and_train_starts_afresh(window, qtbot):
    start(window, qtbot, tiny("vae"))
    qtbot.waitUntil(lambda: window.run.step > 5, timeout=TIMEOUT_MS)
    process = window.run.worker._process
    process.kill()
    qtbot.waitUntil(lambda: window.run.state == "failed" and window.run.worker is None, timeout=TIMEOUT_MS)
    assert "ended unexpectedly" in window.pane.banner.text()
    window.pane.toggle_training()  # nothing to continue: a fresh model trains
    qtbot.waitUntil(lambda: window.run.state == "training" and window.run.step > 5, timeout=TIMEOUT_MS)
    assert window.run.worker._process.pid != process.pid and not window.pane.banner.isVisible()


def test_closing_the_window_ends_the_training_process(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    win.show()
    start(win, qtbot, tiny("gan"))
    qtbot.waitUntil(lambda: win.run.step > 5, timeout=TIMEOUT_MS)
    process = win.run.worker._process
    win.close()
    assert not process.is_alive() and process.exitcode == 0  # it ended when asked, not killed


def test_the_next_run_is_handed_the_data_set_its_child_loaded(window, qtbot):
    start(window, qtbot, tiny("vae"))
    loaded = window.run.info.dataset
    window.pane.reset()
    *_, known, _environment = pickle.loads(window.run.worker._args)
    assert list(known) == ["digits"]
    np.testing.assert_array_equal(known["digits"].x, loaded.x)
    qtbot.waitUntil(lambda: window.run.info is not None, timeout=TIMEOUT_MS)
    np.testing.assert_array_equal(window.run.info.dataset.x, loaded.x)
    assert len(training_process._known_data) <= training_process.KNOWN_DATA
