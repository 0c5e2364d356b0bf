"""Training in a child process (ui/training_process.py): what the window sees when the child dies,
that no child outlives the window, and that a run's data set is handed to the next run."""
from __future__ import annotations

import pickle

import numpy as np

from genstudio.ui import training_process

from .test_main_window import TIMEOUT_MS, start, tiny


def test_a_killed_training_process_is_one_message_and_train_starts_afresh(window, qtbot):
    start(window, qtbot, tiny("vae"))
    qtbot.waitUntil(lambda: window.step > 5, timeout=TIMEOUT_MS)
    process = window.worker._process
    process.kill()
    qtbot.waitUntil(lambda: window.state == "failed" and window.worker is None, timeout=TIMEOUT_MS)
    assert "ended unexpectedly" in window.banner.text()
    window.toggle_training()  # nothing to continue: a fresh model trains
    qtbot.waitUntil(lambda: window.state == "training" and window.step > 5, timeout=TIMEOUT_MS)
    assert window.worker._process.pid != process.pid and not window.banner.isVisible()


def test_closing_the_window_ends_the_training_process(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    win.show()
    start(win, qtbot, tiny("gan"))
    qtbot.waitUntil(lambda: win.step > 5, timeout=TIMEOUT_MS)
    process = win.worker._process
    win.close()
    assert not process.is_alive() and process.exitcode == 0  # it ended when asked, not killed


def test_the_next_run_is_handed_the_data_set_its_child_loaded(window, qtbot):
    start(window, qtbot, tiny("vae"))
    loaded = window.info.dataset
    window.reset()
    *_, known, _environment = pickle.loads(window.worker._args)
    assert list(known) == ["digits"]
    np.testing.assert_array_equal(known["digits"].x, loaded.x)
    qtbot.waitUntil(lambda: window.info is not None, timeout=TIMEOUT_MS)
    np.testing.assert_array_equal(window.info.dataset.x, loaded.x)
    assert len(training_process._known_data) <= training_process.KNOWN_DATA
