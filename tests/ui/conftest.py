"""Qt fixtures: offscreen (set in tests/conftest.py before Qt loads), a window with private
settings, every worker stopped at the end, and no leaked top-level windows."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from genstudio.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert not any(worker.is_alive() for worker in win.retired), "a training thread outlived the window"
    assert not any(e.is_alive() for e in win.retired_explorers), "an explorer thread outlived the window"
    QApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not win]
    assert not leaked, f"leaked top-level widgets: {leaked}"
