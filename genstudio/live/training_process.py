"""Training in its own process: TrainingWorker's interface, with its loop in a child process.

Why: the training loop of a small model is mostly Python, and so is the GUI. In one process they
take turns on the GIL, and dragging a slider in the VAE lab cost the training loop about a fifth of
its speed. In a child process the loop has an interpreter to itself.

The child runs a TrainingWorker in its main thread. Its messages come back pickled through a pipe,
and a reader thread here hands them on to `report` as if a training thread had made them (so the
window cannot tell the two apart). Commands (pause, resume, step, set_lr, ...) go the other way
through a second pipe, and a thread in the child calls the worker's method. Pickle is safe here:
both ends are this program, and no file is involved.

Children are forked from a server process that has already imported torch (live/forkserver.py), so
a run starts in milliseconds, not in the seconds a fresh interpreter takes.

Like worker.py, this module never touches Qt (ui/threads.py).
"""
from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time

from .forkserver import context
from .messages import Commands, Failed, Ready, Stopped
from .worker import TrainingWorker

TRAINING_NICENESS = 10  # the training process's priority below the window's (POSIX nice)
KILL_AFTER_S = 2.0  # a child that has not ended this long after it was told to stop is killed
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a Linux process gets when its parent ends
KNOWN_DATA = 2      # data sets a child loaded that are handed to the next ones (an import can take seconds)

_known_data: dict[str, object] = {}   # data.cache_key -> Dataset, the newest last
_known_lock = threading.Lock()        # reader threads add, the GUI thread reads

def _environment() -> dict:
    """What a child must see of this process: a forkserver's children inherit the server's
    environment and folder, which are those of the moment it started."""
    return {"cwd": os.getcwd(), "env": {k: v for k, v in os.environ.items() if k.startswith("GENSTUDIO_")}}


class TrainingProcess(Commands):
    """One run's training process. Reports what TrainingWorker reports, in the same order, from a
    reader thread; Failed and Stopped also come when the child dies without saying so."""

    def __init__(self, experiment, report, start_paused: bool, snapshot_s: float = 0.5, eval_s: float = 10.0,
                 resume=None):
        from .. import data

        self.report, self.start_paused = report, start_paused
        self._data_key = data.cache_key(experiment.data, experiment.data_size, experiment.data_color)
        with _known_lock:
            known = {k: v for k, v in _known_data.items() if k == self._data_key}
        # pickled here: plain pickle copies tensors, where multiprocessing's would share them
        self._args = pickle.dumps((experiment, start_paused, snapshot_s, eval_s, resume, known, _environment()),
                                  protocol=pickle.HIGHEST_PROTOCOL)
        self._process = None
        self._commands = None
        self._lock = threading.Lock()   # the GUI thread sends commands; the reader thread closes the pipe
        self._stopped = False
        self._thread = threading.Thread(target=self._read, name="genstudio-training-reader", daemon=True)

    def start(self) -> None:
        # Process.start() waits for the forkserver, which imports torch on its first use: not in the GUI thread
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the reader (which waits for the child to end); True when it has. A child that
        outlives `timeout` is killed."""
        self._thread.join(timeout)
        process = self._process
        if self._thread.is_alive() and process is not None and process.is_alive():
            process.kill()
            self._thread.join(KILL_AFTER_S)
        return not self._thread.is_alive()

    def _read(self) -> None:
        ctx = context()
        events_in, events_out = ctx.Pipe(duplex=False)
        commands_in, commands_out = ctx.Pipe(duplex=False)
        pipes = (events_in, events_out, commands_in, commands_out)
        try:
            with self._lock:
                stopped = self._stopped
                if not stopped:
                    self._process = ctx.Process(target=child_main, args=(events_out, commands_in, self._args),
                                                name="genstudio-training", daemon=True)
                    self._commands = commands_out
            if not stopped:
                self._process.start()
        except Exception as exc:  # the process could not start: one message, the window stays up
            self.report(self, Failed(f"the training process could not start: {type(exc).__name__}: {exc}"))
            stopped = True
        if stopped:
            self._end(*pipes)
            return
        try:
            events_out.close()
            commands_in.close()
            said_stopped = self._relay(events_in)
            self._process.join(KILL_AFTER_S)  # here, so that the window's join does not wait for it
            if self._process.is_alive():
                self._process.kill()
            self._process.join()   # reaped: no zombie is left, whatever happened
            if not (said_stopped or self._stopped):
                self.report(self, Failed(f"the training process ended unexpectedly "
                                         f"(exit code {self._process.exitcode})"))
        finally:
            self._end(*pipes)

    def _relay(self, events_in) -> bool:
        """Hand the child's messages on until it says Stopped (True) or its pipe ends (False): a child
        killed halfway through a message leaves a truncated one, which ends the relay too."""
        while True:
            try:
                message = pickle.loads(events_in.recv_bytes())
            except Exception:   # EOF, a broken pipe, or the tail of a message cut short
                return False
            if isinstance(message, Stopped):
                return True
            if isinstance(message, Ready) and self._data_key is not None:
                _remember_data(self._data_key, message.dataset)
            self.report(self, message)

    def _end(self, events_in, events_out, commands_in, commands_out) -> None:
        """The reader's last act: the pipes closed, Stopped reported."""
        with self._lock:
            self._commands = None
            commands_out.close()
        for end in (events_in, events_out, commands_in):
            end.close()
        self.report(self, Stopped())

    def command(self, name: str, *args) -> None:
        """From the GUI thread: the command goes down the pipe to the child's worker."""
        with self._lock:
            if name == "stop":
                self._stopped = True
            if self._commands is None:
                return
            try:
                self._commands.send_bytes(pickle.dumps((name, *args)))
            except OSError:  # the child has gone: the reader thread reports it
                pass


def _remember_data(key: str, dataset) -> None:
    with _known_lock:
        _known_data.pop(key, None)
        _known_data[key] = dataset
        while len(_known_data) > KNOWN_DATA:
            del _known_data[next(iter(_known_data))]


def child_main(events, commands, arguments: bytes) -> None:
    """The child's main: a TrainingWorker whose reports go down the events pipe."""
    from .. import data

    experiment, start_paused, snapshot_s, eval_s, resume, known, environment = pickle.loads(arguments)
    data.remember(known)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the window's to handle
    if hasattr(os, "nice"):
        # below the window: with more busy processes than cores (two runs side by side on two cores)
        # the window still gets the CPU when it needs it; alone, training loses nothing
        os.nice(TRAINING_NICENESS)
    os.chdir(environment["cwd"])
    for key in [k for k in os.environ if k.startswith("GENSTUDIO_")]:
        del os.environ[key]
    os.environ.update(environment["env"])
    send_lock = threading.Lock()

    def report(_worker, message):
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with send_lock:
            try:
                events.send_bytes(data)
            except OSError:  # the window has gone: stop
                worker.stop()

    worker = TrainingWorker(experiment, report, start_paused, snapshot_s=snapshot_s, eval_s=eval_s, resume=resume)

    def obey():
        while True:
            try:
                name, *args = pickle.loads(commands.recv_bytes())
            except (EOFError, OSError):  # the window has gone
                worker.stop()
                return
            worker.command(name, *args)
            if name == "stop":
                return

    threading.Thread(target=obey, name="genstudio-commands", daemon=True).start()
    _die_with_parent(worker)
    worker.run()


def _die_with_parent(worker) -> None:
    """A child whose window's process has gone (killed, say) must not train or download on: when the
    parent's sentinel fires it stops its worker, and ends KILL_AFTER_S later if that did not end it (a
    download does not look at the stop flag). On Linux the kernel also kills it when its own parent,
    the forkserver, goes (which happens when the window's process goes)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        worker.stop()
        time.sleep(KILL_AFTER_S)
        os._exit(1)

    threading.Thread(target=watch, name="genstudio-parent-watch", daemon=True).start()
