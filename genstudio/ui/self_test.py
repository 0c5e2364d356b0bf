"""`genstudio gui --self-test [--screenshots DIR]`: drive the real window through every family.

For each family: reset on its default data, train a few seconds, pause, step, scrub the timeline,
save FAMILY-samples.png, FAMILY-curves.png and FAMILY-window.png, and check that curves and
samples received data. Exit code 0 when every check passed; the packaged app's smoke test.
"""
from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from ..config import FAMILIES, default_experiment

TRAIN_SECONDS = 3.0


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        wait(20)
    return True


class SelfTest:
    def __init__(self, window, screenshots: str | None):
        self.window, self.dir = window, screenshots
        self.exit_code = 1
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.failures.append(what)
            print(f"self-test: FAILED: {what}", file=sys.stderr)
        return ok

    def save(self, widget, name: str) -> None:
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)
            path = os.path.join(self.dir, name)
            self.check(widget.grab().save(path), f"saving {path}")

    def start(self) -> None:
        try:
            self.run_all()
        except Exception as exc:  # report, never hang
            self.failures.append(f"{type(exc).__name__}: {exc}")
            print(f"self-test: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.exit_code = 0 if not self.failures else 1
        print("self-test: " + ("passed" if not self.failures else f"{len(self.failures)} check(s) failed"))
        self.window.close()
        QApplication.instance().quit()

    def run_all(self) -> None:
        win = self.window
        for family in FAMILIES:
            exp = default_experiment(family)
            win.panel.set_experiment(exp)
            win.reset(start=True)
            if not self.check(wait_until(lambda: win.state == "training", 120), f"{family}: training started"):
                continue
            wait(int(TRAIN_SECONDS * 1000))
            win.toggle_training()
            self.check(win.state == "paused", f"{family}: paused")
            before = win.step
            win.single_step("all")
            self.check(wait_until(lambda: win.step > before, 30), f"{family}: one step while paused")
            self.check(len(win.curves.history.data) > 0, f"{family}: curves received losses")
            self.check(len(win.timeline.snapshots) >= 2, f"{family}: timeline has snapshots")
            win.curves.redraw()
            n = len(win.timeline.snapshots)
            win.timeline.slider.setValue(n // 2)  # scrub back...
            self.check(not win.timeline.live, f"{family}: timeline scrubbed")
            win.timeline.slider.setValue(n - 1)   # ...and return to live
            win.tabs.setCurrentIndex(0)
            wait(100)
            self.save(win.samples, f"{family}-samples.png")
            self.save(win.curves, f"{family}-curves.png")
            self.save(win, f"{family}-window.png")
            print(f"self-test: {family} on {exp.data}: {win.step} steps, {n} snapshots")
