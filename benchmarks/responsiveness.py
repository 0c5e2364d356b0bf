"""How the studio window holds up while it trains: printed as a table, measured side by side.

    python -m benchmarks.responsiveness [--seconds 8] [--repeats 3] [--only gan]

For each family on its default data: steps/s inside the app (offscreen) / steps/s of the same config
run headless (alternating, median of the repeats); the lateness of a 10 ms GUI timer while the app
trains at full speed (p50 / p95 / max); and, once, process start to first window shown and to the
first trained sample. Goals (studio window issue): ratio >= 0.95, p95 <= 8 ms, max <= 33 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from genstudio.config import FAMILIES, default_experiment  # noqa: E402

TIMER_MS = 10


def headless_rate(exp, seconds: float) -> float:
    from genstudio.engine.trainer import Cadence, Trainer

    trainer = Trainer(exp, Cadence(snapshot_s=0.5, eval_s=10.0, evaluate_at_end=False))
    for _ in trainer.run(steps=50):  # warm-up, as the app's first steps are not counted either
        pass
    start_step, start_s = trainer.step, trainer.seconds
    for _ in trainer.run(seconds=seconds):
        pass
    return (trainer.step - start_step) / (trainer.seconds - start_s)


def app_rate(window, exp, seconds: float) -> tuple[float, list[float]]:
    from genstudio.ui.self_test import wait, wait_until

    window.panel.set_experiment(exp)
    window.reset(start=True)
    wait_until(lambda: window.state == "training" and window.step >= 50, 120)
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - TIMER_MS))
        last[0] = now

    from PySide6.QtCore import Qt, QTimer
    timer = QTimer()
    timer.setTimerType(Qt.PreciseTimer)
    timer.timeout.connect(tick)
    start_step, start_s = window.step, window.seconds
    last[0] = time.perf_counter()
    timer.start(TIMER_MS)
    wait(int(seconds * 1000))
    timer.stop()
    rate = (window.step - start_step) / max(window.seconds - start_s, 1e-9)
    window.toggle_training()
    return rate, lateness


STARTUP_PROBE = r"""
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from genstudio.ui.app import run  # noqa
import pyqtgraph as pg
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from genstudio.ui.main_window import MainWindow
app = QApplication([])
win = MainWindow(QSettings(sys.argv[1], QSettings.IniFormat))
win.show()
app.processEvents()
print("shown", time.time(), flush=True)
QTimer.singleShot(0, lambda: win.reset(start=True))
from genstudio.ui.self_test import wait_until
wait_until(lambda: any(s.step > 0 for s in win.timeline.snapshots), 120)
print("sample", time.time(), flush=True)
win.close()
"""


def startup(tmp: str) -> tuple[float, float]:
    began = time.time()
    out = subprocess.run([sys.executable, "-c", STARTUP_PROBE, os.path.join(tmp, "startup.ini")],
                         capture_output=True, text=True, check=True).stdout
    stamps = dict(line.split() for line in out.splitlines() if line.split()[0] in ("shown", "sample"))
    return float(stamps["shown"]) - began, float(stamps["sample"]) - began


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append")
    args = parser.parse_args(argv)

    import tempfile

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from genstudio.engine.device import default_threads
    from genstudio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp()
    window = MainWindow(QSettings(os.path.join(tmp, "bench.ini"), QSettings.IniFormat))
    window.show()
    print(f"# GenStudio responsiveness, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"torch threads {default_threads()}, {args.seconds:g} s per measurement, median of {args.repeats}")
    print(f"{'family/data':<18} {'app it/s':>9} {'headless':>9} {'ratio':>6}   timer late p50 / p95 / max (ms)")
    for family in FAMILIES:
        if args.only and family not in args.only:
            continue
        exp = default_experiment(family)
        ratios, apps, heads, late = [], [], [], []
        for _ in range(args.repeats):
            head = headless_rate(exp, args.seconds)
            rate, lateness = app_rate(window, exp, args.seconds)
            ratios.append(rate / head)
            apps.append(rate)
            heads.append(head)
            late.extend(lateness)
        late.sort()
        p50, p95 = late[len(late) // 2], late[int(len(late) * 0.95)]
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio >= 0.95 and p95 <= 8 and late[-1] <= 33 else "MISSES GOAL"
        print(f"{family + '/' + exp.data:<18} {statistics.median(apps):>9.1f} {statistics.median(heads):>9.1f} "
              f"{ratio:>6.2f}   {p50:5.1f} / {p95:5.1f} / {late[-1]:5.1f}   {verdict}", flush=True)
    window.close()
    app.processEvents()
    shown, sample = startup(tmp)
    print(f"startup: first window shown {shown:.2f} s after process start (goal <= 0.5 s), "
          f"first trained sample {sample:.2f} s")


if __name__ == "__main__":
    main()
