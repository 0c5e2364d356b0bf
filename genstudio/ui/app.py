"""Starting the window: `genstudio`, `python -m genstudio`, `genstudio gui [--self-test]`."""
from __future__ import annotations

import os
import sys


def has_screen() -> bool:
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(self_test: bool = False, screenshots: str | None = None, settings_path: str | None = None,
        open_path: str | None = None) -> int:
    """The window; `open_path`: an experiment file, a lesson or data to open once it is up (what a
    double-click or "Open with" passes)."""
    if not has_screen():
        if not self_test:
            print("genstudio: error: no screen to open the window on (DISPLAY is not set); "
                  "try `genstudio gui --self-test --screenshots DIR` or `genstudio train --help`", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the self-test runs without a screen
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from ..paths import resource
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("GenStudio")
    app.setDesktopFileName("GenStudio")  # Wayland matches the window to GenStudio.desktop by this name
    app.setWindowIcon(QIcon(resource("icon.png")))
    if self_test and settings_path is None:  # a smoke test must not overwrite the user's last experiment
        import tempfile
        settings_path = os.path.join(tempfile.mkdtemp(prefix="genstudio-self-test-"), "settings.ini")
    settings = QSettings(settings_path, QSettings.IniFormat) if settings_path else None
    window = MainWindow(settings, defer_views=True)  # the plots are built once the window is painted
    window.views_built.connect(window.pane.reset)  # the worker imports torch and builds the model off the GUI thread
    if open_path:
        window.views_built.connect(lambda: window.open_path(os.path.abspath(open_path)))
    window.show()
    from . import startup_probe
    if os.environ.get(startup_probe.ENVIRONMENT_VARIABLE) == "1":
        startup_probe.attach(window)
    if self_test:
        from .self_test import SelfTest
        test = SelfTest(window, screenshots)
        window.views_built.connect(lambda: QTimer.singleShot(0, test.start))
        app.exec()
        return test.exit_code
    return app.exec()
