"""GENSTUDIO_STARTUP_PROBE=1: the measurement behind `genstudio bench`'s startup rows, the same from
source and in the frozen app. Prints "shown <unix time>" once the window is painted, presses Train
as soon as the first model is built, prints "sample <unix time>" when its first trained sample is
on screen, and quits."""
from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

ENVIRONMENT_VARIABLE = "GENSTUDIO_STARTUP_PROBE"


def attach(window) -> None:
    QApplication.processEvents()  # the first paint
    print("shown", time.time(), flush=True)
    timer = QTimer(window)
    pressed = []

    def poll():
        if window.run.state == "paused" and window.run.step == 0 and not pressed:
            pressed.append(True)
            window.pane.toggle_training()
        if any(s.step > 0 for s in window.pane.timeline.snapshots):
            print("sample", time.time(), flush=True)
            timer.stop()
            window.discard_on_close = True   # a measurement: no question about the training it did
            window.close()
            QApplication.instance().quit()

    timer.timeout.connect(poll)
    timer.start(10)
