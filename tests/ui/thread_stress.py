"""Hammer the window's threads: resets, family changes, opened experiment files and new windows,
all while training, with gc.collect() between them, for every family.

    python -m tests.ui.thread_stress --cycles 200 --deadline 240

Run as a subprocess with a hard time limit (tests/ui/test_thread_stress.py): a deadlock then ends
the process with every thread's stack printed (faulthandler) and exit code 1, instead of hanging.
Prints one line `stress: N cycles (...)` and exits 0 when every cycle ended with the window alive
and training.
"""
from __future__ import annotations

import argparse
import collections
import faulthandler
import functools
import gc
import os
import random
import sys
import tempfile
import time
from dataclasses import replace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ACTIONS = ("reset", "burst", "family", "open", "window")


def tiny(model: str):
    """The Qt tests' tiny settings for `model`, on one thread."""
    from tests.ui.test_main_window import tiny as tiny_settings
    return replace(tiny_settings(model), threads=1)


def pump(ms: int) -> None:
    """Run the Qt event loop for `ms` milliseconds (the GUI thread in C++, as in the real app)."""
    from PySide6.QtCore import QEventLoop, QTimer
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not predicate():
        if time.perf_counter() > deadline:
            raise SystemExit(f"stress: timed out waiting ({predicate.__doc__ or 'a condition'})")
        pump(10)


def new_window(folder: str):
    from PySide6.QtCore import QSettings

    from genstudio.ui.main_window import MainWindow
    win = MainWindow(QSettings(os.path.join(folder, "settings.ini"), QSettings.IniFormat))
    win.unsaved_work.set_asking(False)   # the stress resets, opens and closes without a question
    win.show()
    return win


def train(win, model: str) -> None:
    win.pane.panel.set_experiment(tiny(model))
    win.pane.reset(start=True)
    wait_until(lambda: win.run.state == "training")


def saved_experiment(folder: str) -> str:
    """A tiny GAN experiment file, trained for a few steps headless."""
    from genstudio.engine import experiment_file
    from genstudio.engine.trainer import Cadence, Trainer
    exp = replace(tiny("gan"), steps=20, device="cpu")
    trainer = Trainer(exp, Cadence(snapshot_s=3600, eval_s=3600, evaluate_at_end=False))
    for _ in trainer.run():
        pass
    path = os.path.join(folder, "stress.genstudio")
    experiment_file.save(path, experiment_file.ExperimentFile(exp, trainer.state()))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=240.0, help="seconds before a hang is declared")
    args = parser.parse_args(argv)
    faulthandler.dump_traceback_later(args.deadline, exit=True)  # a deadlock: every stack, then exit 1

    import torch
    torch.set_num_threads(1)
    from PySide6.QtWidgets import QApplication

    from genstudio.config import FAMILIES

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 (kept alive)
    rng = random.Random(args.seed)
    folder = tempfile.mkdtemp(prefix="genstudio-stress-")
    path = saved_experiment(folder)
    win = new_window(folder)
    counts, seconds = collections.Counter(), collections.Counter()
    start = time.perf_counter()
    for i in range(args.cycles):
        model = FAMILIES[i % len(FAMILIES)]
        action = rng.choice(ACTIONS)
        counts[action] += 1
        began = time.perf_counter()
        if action == "reset":
            train(win, model)
        elif action == "burst":  # Reset pressed again and again: each retires a thread that is winding down
            for j in range(6):
                win.pane.panel.set_experiment(tiny(FAMILIES[(i + j) % len(FAMILIES)]))
                win.pane.reset(start=True)
                pump(rng.randrange(0, 8))
        elif action == "family":  # the panel changes family mid-run, then Reset applies it
            win.pane.panel.set_experiment(tiny(rng.choice([f for f in FAMILIES if f != model])))
            pump(rng.randrange(0, 30))
            win.pane.reset(start=True)
        elif action == "open":
            outcome = []   # None once opened, else the problem
            win.pane.files.open_experiment(path, opened=functools.partial(outcome.append, None), failed=outcome.append)
            while not outcome:
                pump(5)
            if outcome[0] is not None:
                raise SystemExit(f"stress: could not open {path}: {outcome[0]}")
            win.pane.toggle_training()
        else:  # close the window while it trains, open a new one
            win.close()
            win.deleteLater()   # as pytest-qt does: a closed window's menus hold lambdas that keep it alive
            win = new_window(folder)
            train(win, model)
        pump(rng.randrange(0, 120))
        gc.collect()
        seconds[action] += time.perf_counter() - began
    wait_until(lambda: win.run.state == "training")
    step = win.run.step
    wait_until(lambda: win.run.step > step)
    win.close()
    faulthandler.cancel_dump_traceback_later()
    actions = ", ".join(f"{k} {v} in {seconds[k]:.0f} s" for k, v in sorted(counts.items()))
    print(f"stress: {args.cycles} cycles ({actions}) in {time.perf_counter() - start:.0f} s, no hang")
    return 0


if __name__ == "__main__":
    sys.exit(main())
