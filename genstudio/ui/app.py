"""Starting the window: `genstudio`, `python -m genstudio`, `genstudio gui [--self-test]`."""
from __future__ import annotations

import os
import sys
import time


def run(self_test: bool = False, screenshots: str | None = None, settings_path: str | None = None) -> int:
    started = time.perf_counter()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no screen: still run (self-test, CI)
    import pyqtgraph as pg
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GenStudio")
    if self_test and settings_path is None:  # a smoke test must not overwrite the user's last experiment
        import tempfile
        settings_path = os.path.join(tempfile.mkdtemp(prefix="genstudio-self-test-"), "settings.ini")
    settings = QSettings(settings_path, QSettings.IniFormat) if settings_path else None
    window = MainWindow(settings)
    window.show()
    window.first_shown_s = time.perf_counter() - started
    QTimer.singleShot(0, window.reset)  # the worker imports torch and builds the model off the GUI thread
    if self_test:
        from .self_test import SelfTest
        test = SelfTest(window, screenshots)
        QTimer.singleShot(0, test.start)
        app.exec()
        return test.exit_code
    return app.exec()
