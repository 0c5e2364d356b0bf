"""The deadlock behind "the window can freeze for good on Reset", as a small repeatable experiment.

    python -m tests.ui.deadlock_patterns old --rounds 3000 --deadline 60
    python -m tests.ui.deadlock_patterns new --rounds 3000 --deadline 60

Both run a background thread per round while the GUI thread creates and removes pyqtgraph items
(each connects Qt signals, holding the GIL), as the window does when a run starts.
- old: the window's former pattern, a parentless QObject worker moved to a QThread with
  finished -> deleteLater, so the worker is destroyed in its own thread. ~QObject holds a Qt
  signal-slot mutex and asks Python (disconnectNotify) for the GIL, which the GUI thread holds while
  it waits for that mutex: a hang, which faulthandler reports after --deadline seconds (exit 1).
- new: ui/threads.py's rule, a plain thread that never touches Qt and posts to the Inbox.
Prints one line and exits 0 when all rounds finished.
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def busy_python() -> int:
    x = 0
    for i in range(2000):  # a little Python work, holding the GIL
        x += i
    return x


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="old or new threading pattern under a deadline")
    parser.add_argument("pattern", choices=("old", "new"))
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--deadline", type=float, default=60.0)
    args = parser.parse_args(argv)
    faulthandler.dump_traceback_later(args.deadline, exit=True)

    import pyqtgraph as pg
    from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.threads import GuiThreadGarbageCollector, Inbox

    class Worker(QObject):
        stopped = Signal()

        def run(self):
            busy_python()
            self.stopped.emit()

    app = QApplication.instance() or QApplication([])
    GuiThreadGarbageCollector.install(app)
    owner = QObject()
    inbox = Inbox(owner)
    plot = pg.PlotWidget()
    delivered, alive = [], []
    began = time.perf_counter()
    for _ in range(args.rounds):
        if args.pattern == "old":
            worker, thread = Worker(), QThread()
            worker.moveToThread(thread)
            thread.started.connect(worker.run)
            worker.stopped.connect(thread.quit)
            worker.stopped.connect(lambda: delivered.append(1))
            thread.finished.connect(worker.deleteLater)
            thread.finished.connect(thread.deleteLater)
            thread.start()
            alive = (alive + [(thread, worker)])[-20:]  # referenced until long after they finished
        else:
            thread = threading.Thread(target=lambda: inbox.post(delivered.append, busy_python()))
            thread.start()
            alive = [t for t in alive + [thread] if t.is_alive()]
        for _ in range(5):  # the GUI thread connects while the thread winds down
            item = pg.PlotDataItem([0, 1], [0, 1])
            plot.addItem(item)
            plot.removeItem(item)
        QCoreApplication.processEvents()
    faulthandler.cancel_dump_traceback_later()
    print(f"{args.pattern} pattern: {args.rounds} rounds in {time.perf_counter() - began:.1f} s, no hang", flush=True)
    os._exit(0)  # the old pattern's last threads may still be winding down: do not wait for them


if __name__ == "__main__":
    main()
