"""Qt fixtures: offscreen (set in tests/conftest.py before Qt loads), a window with private
settings, every worker stopped at the end, and no leaked top-level windows.

The window trains in a child process, as the app does. A test marked `training_thread` gets the
loop in a thread of the test process instead: for patching the model's code (a patch does not
reach a child process)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from genstudio.ui.main_window import MainWindow
from genstudio.ui.unsaved_work import UnsavedWork


@pytest.fixture(autouse=True)
def no_question_unless_asked(monkeypatch):
    """Every window a test builds closes and resets without the unsaved-training question; the tests
    of the question turn it on."""
    monkeypatch.setattr(UnsavedWork, "ASK_UNLESS_TOLD", False)


@pytest.fixture
def window(qtbot, tmp_path, request):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings, training_process=request.node.get_closest_marker("training_thread") is None)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.discard_on_close = True
    win.close()
    assert not any(worker.is_alive() for worker in win.run.retired), "a training thread or process outlived the window"
    assert not any(e.is_alive() for e in win.run.retired_explorers), "an explorer thread outlived the window"
    QApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not win]
    assert not leaked, f"leaked top-level widgets: {leaked}"
