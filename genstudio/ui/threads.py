"""How background threads reach the GUI thread, and the rule that keeps the window deadlock-free.

THE RULE: only the GUI thread touches Qt. A background thread (training, file jobs, the explorer)
never creates, connects, emits on or destroys a QObject. It hands plain Python objects to
`Inbox.post`, and the GUI thread runs the handler.

Why: Qt calls into Python (and so waits for the GIL) while it holds its own signal-slot mutexes.
A QObject destroyed in one thread calls disconnectNotify on its Python-wrapped senders with those
mutexes held; if another thread holds the GIL at that moment and waits for one of the same mutexes
(any connect, emit or destruction does), both wait for ever. That froze the window on Reset: a
retired QThread worker was deleted in its own thread while the GUI thread connected a plot item.
With Qt in one thread only, no second thread ever waits for a Qt mutex, so the cycle cannot form.

Python's cyclic garbage collector can destroy a QObject too (a plot item removed from its plot, a
closed window), in whichever thread the collection happens to start. So while the app runs,
automatic collection is off and `GuiThreadGarbageCollector` collects on a GUI-thread timer with the
same generation thresholds (pyqtgraph's GarbageCollector does the same, for the same reason).
"""
from __future__ import annotations

import collections
import gc
import socket
import sys

from PySide6.QtCore import QObject, QSocketNotifier, QTimer

GC_CHECK_MS = 500


class Inbox:
    """Calls from any thread, run in the GUI thread in the order they were posted.

    A posting thread appends to a deque and writes one byte to a socket pair (plain Python, no Qt);
    a QSocketNotifier wakes the GUI thread at once, so an answer is not held back by a poll.
    """

    def __init__(self, parent: QObject):
        self._calls: collections.deque = collections.deque()
        self._receive, self._send = socket.socketpair()
        self._receive.setblocking(False)
        self._send.setblocking(False)
        self._notifier = QSocketNotifier(self._receive.fileno(), QSocketNotifier.Type.Read, parent)
        self._notifier.activated.connect(self._deliver)

    def post(self, handler, *args) -> None:
        """From any thread: handler(*args) runs in the GUI thread soon."""
        self._calls.append((handler, args))
        try:
            self._send.send(b"\0")
        except OSError:  # the buffer is full (a wake-up is pending anyway) or the inbox is closed
            pass

    def _deliver(self, *_):
        try:
            self._receive.recv(1 << 16)
        except OSError:
            pass
        for _ in range(len(self._calls)):  # what is here now; later posts wake us again
            handler, args = self._calls.popleft()
            try:
                handler(*args)
            except Exception:  # one bad handler must not strand the rest; report it as Qt slots do
                sys.excepthook(*sys.exc_info())

    def close(self) -> None:
        """No more deliveries (posts after this are dropped)."""
        self._notifier.setEnabled(False)
        self._calls.clear()
        self._send.close()
        self._receive.close()


class SlotErrors:
    """While in use (`with SlotErrors() as errors:`), every exception that reaches sys.excepthook (one
    raised in a Qt slot or virtual method, or in an inbox handler) is kept as one line in `errors`,
    and printed as before. Qt only prints them; the self-test and the bench fail on them."""

    def __init__(self):
        self.errors: list[str] = []
        self._previous = None

    def __enter__(self) -> SlotErrors:
        self._previous, sys.excepthook = sys.excepthook, self._hook
        return self

    def __exit__(self, *_) -> None:
        sys.excepthook = self._previous

    def _hook(self, kind, value, traceback) -> None:
        self.errors.append(f"{kind.__name__}: {value}".splitlines()[0])
        self._previous(kind, value, traceback)


class GuiThreadGarbageCollector(QObject):
    """Cyclic garbage collection in the GUI thread only, at the interpreter's own thresholds."""

    _instance = None

    @classmethod
    def install(cls, app) -> None:
        """Once per QApplication (idempotent): automatic collection stays off while it lives."""
        if cls._instance is None or cls._instance.parent() is not app:
            cls._instance = cls(app)

    def __init__(self, app):
        super().__init__(app)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(GC_CHECK_MS)
        app.aboutToQuit.connect(gc.enable)

    def check(self):
        """As the interpreter would: gen 0 past its threshold, then the older ones in turn."""
        for generation in range(3):
            if gc.get_count()[generation] <= self.threshold[generation]:
                return
            gc.collect(generation)
