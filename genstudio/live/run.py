"""One run, without Qt: its state machine, its commands and its data.

A Run starts a worker (a training process, or a thread of this process) for an experiment, takes its
messages (live/messages.py) in the GUI thread, keeps what the window displays (the loss history, the
timeline's snapshots and fork points, the evaluations, its record in the runs table) and tells its
listener (the run's pane) what changed. Background threads reach it only through `post`, the inbox
of ui/threads.py, so every method here runs in the GUI thread and no lock is needed.

    idle ──start──> building ──Ready──> paused <──toggle──> training
                       │                   └───── Failed / Diverged ──> failed
                       └── the worker ends on its own ──> failed (with a problem) or idle
    close() ──> stopped (from any state)
"""
from __future__ import annotations

import dataclasses
import time
import weakref

import numpy as np

from ..engine.events import Checkpoint, Diverged, ForkState, HeldOut, LossPoints, Metrics, Snapshot, Weights
from .history import CurveHistory, SnapshotLog
from .messages import DeviceMemory, Failed, Progress, Ready, Stopped
from .records import run_log

STATES = ("idle", "building", "training", "paused", "failed", "stopped")
STOP_TIMEOUT_S = 5.0
WEIGHTS_IN_FLIGHT_S = 5.0   # a weights request unanswered this long (a busy or stuck step) is asked again
RATE_WINDOW_S = 2.0         # steps/s over this many seconds


class RunListener:
    """What a Run tells whoever displays it, in the GUI thread. Each method does nothing here."""

    def run_state(self, state: str) -> None: ...
    def run_started(self, experiment) -> None: ...      # a new worker: the views follow this experiment now
    def run_ready(self, ready: Ready) -> None: ...
    def run_losses(self, points: LossPoints) -> None: ...
    def run_snapshot(self, snap: Snapshot, oldest_left: bool) -> None: ...
    def run_metrics(self, event: Metrics) -> None: ...
    def run_held_out(self, event: HeldOut) -> None: ...
    def run_weights(self, step: int) -> None: ...       # the explorer has new weights
    def run_answer(self, answer) -> None: ...           # the explorer's answer to the current request
    def run_failed(self, message: str) -> None: ...     # the run failed: a banner until it goes on
    def run_problem(self, message: str) -> None: ...    # something asked of it cannot be done: one message
    def run_progress(self, progress: Progress) -> None: ...
    def run_device_memory(self, mib: float) -> None: ...
    def run_checkpoint(self, event: Checkpoint) -> None: ...
    def run_fork_ready(self, document, forked_at: int) -> None: ...   # a kept state, to start a fork from


class Run:
    """One run's life. `post(handler, *args)`: runs handler(*args) in the GUI thread soon (any thread
    may call it). `worker_class`: TrainingProcess (the app) or TrainingWorker (a thread)."""

    def __init__(self, post, listener: RunListener, worker_class):
        self.post, self.listener, self.worker_class = post, listener, worker_class
        self.state = "idle"
        self.worker = None
        self.retired: list = []          # workers asked to stop, their threads (or processes) not yet ended
        self.explorer = None             # the running model's explorer, while its view is interactive
        self.retired_explorers: list = []
        self.experiment = None           # what the running model was built from (the views follow it)
        self.info: Ready | None = None
        self.record = None               # this run's row in the runs table (live/records.py)
        self.history = CurveHistory()
        self.snapshots = SnapshotLog()
        self.evaluations: list = []      # every Metrics event (saved in experiment files)
        self.step, self.seconds = 0, 0.0
        self.saved_step = 0              # the step last saved to (or opened from) a file
        self.problem: str | None = None  # why the run failed (None: it did not)
        self.diverged = False
        self.pending_train = False       # Train pressed while building
        self.lr_on_ready: float | None = None   # a fork's learning rate (its state carries the original's)
        self.fork_lr: float | None = None       # the learning rate asked for the fork being made
        self.weights_asked_at: float | None = None  # a weights request is in flight since then
        self.weights_step: int | None = None
        self.weights_requests = 0        # copies of the weights asked of the training loop (bench)
        self._rate_window: list[tuple[float, int]] = []
        self.handlers = {LossPoints: self._losses, Snapshot: self._snapshot, Metrics: self._metrics,
                         HeldOut: self._held_out, Diverged: self._diverged, Checkpoint: self._checkpoint,
                         Weights: self._weights, ForkState: self._fork_state, Ready: self._ready,
                         Failed: self._failed, Progress: self._progress, DeviceMemory: self._device_memory}

    # starting --------------------------------------------------------------------------------
    def start(self, experiment, train: bool = False, origin: str = "") -> None:
        """A fresh model for `experiment`, paused at step 0 (training at once with `train`)."""
        self._retire_worker()
        self._set_data(CurveHistory(), (), [], 0, 0.0)
        self._launch(experiment, origin, None, start_paused=not train)

    def open(self, document, origin: str = "") -> None:
        """Continue an opened experiment file (its curves, timeline and evaluations come along), paused.
        `origin`: where it came from, for the runs table."""
        self._retire_worker()
        hist = document.history
        history = CurveHistory(tuple(hist.values), hist.held_out)
        history.extend(LossPoints(hist.steps, hist.seconds, hist.values))
        self._set_data(history, document.timeline, list(hist.metrics), document.state.step, document.state.seconds)
        self._launch(document.experiment, origin, document, start_paused=True, resume=document)

    def open_fork(self, document, origin: str, forked_at: int | None) -> None:
        """Start from a kept state with `document`'s settings: its learning rate, not the state's own."""
        self.lr_on_ready = document.experiment.family.lr
        self.open(document, origin)
        self.record.forked_at = forked_at

    def refork(self, experiment) -> bool:
        """Settings applied to a fork before it trained a step (the loss variant, say): fork again from
        the same kept state with them, rather than a fresh model (False: this is not such a fork). After
        a failed try (settings whose networks the state does not fit) a fresh model is the way."""
        record = self.record
        if (record is None or record.forked_at is None or record.document is None or self.step != record.forked_at
                or self.state == "failed"):
            return False
        self.open_fork(dataclasses.replace(record.document, experiment=experiment), record.origin, record.forked_at)
        return True

    def _set_data(self, history, timeline, evaluations, step, seconds) -> None:
        self.history, self.evaluations = history, evaluations
        self.snapshots.clear()
        for snap in timeline:
            self.snapshots.add(snap)
        self.step, self.seconds, self._rate_window = step, seconds, []
        self.saved_step = step
        self.info, self.diverged, self.problem = None, False, None

    def _launch(self, experiment, origin, document, **options) -> None:
        self.record = run_log().start(self, experiment, origin, document)
        self.experiment = experiment
        self.listener.run_started(experiment)
        self.worker = self.worker_class(experiment, self._thread_safe(Run._message), **options)
        self.worker.start()
        self._set_state("building")

    def _thread_safe(self, method):
        """A function any thread may call: method(self, *args) runs in the GUI thread. It holds the run
        only weakly (a thread that ends after the run must not be the one to free it)."""
        post, run = self.post, weakref.ref(self)

        def deliver(*args):
            me = run()
            if me is not None:
                method(me, *args)

        return lambda *args: post(deliver, *args)

    # commands --------------------------------------------------------------------------------
    def toggle(self) -> bool:
        """Train or pause. False when there is no model to go on with (idle, or failed for good):
        the caller builds a fresh one."""
        if self.state == "training" and self.worker is not None:
            self.worker.pause()
            self._set_state("paused")
        elif self.state == "paused" and self.worker is not None:
            self.worker.resume()
            self._set_state("training")
        elif self.state == "failed" and self.worker is not None and self.info is not None and not self.diverged:
            self.problem = None   # after an error in a step the worker keeps its model, paused: continue it
            self.worker.resume()
            self._set_state("training")
        elif self.state == "building":
            self.pending_train = True
        elif self.state not in ("training", "paused"):
            return False
        return True

    def step_once(self, part: str = "all") -> None:
        """One optimisation step ("d" / "g": one network of a GAN), pausing first."""
        if self.worker is None:
            return
        if self.state == "training":
            self.worker.pause()
            self._set_state("paused")
        if self.state == "paused":
            self.worker.step_once(part)

    def set_knob(self, name: str, value) -> bool:
        """A live knob (the learning rate, a VAE's beta) for the running model; False when it is not one
        of its family's."""
        if self.worker is None or self.experiment is None or not hasattr(self.experiment.family, name):
            return False
        if name == "lr":
            self.worker.set_lr(float(value))
        else:
            self.worker.set_hparam(name, value)
        self.experiment = dataclasses.replace(
            self.experiment, family=dataclasses.replace(self.experiment.family, **{name: value}))
        return True

    def fork(self, step: int, lr: float) -> str | None:
        """Ask for the whole state kept at `step`; the fork trains with learning rate `lr`. The state comes
        back as the listener's run_fork_ready. Returns a problem, or None."""
        if self.worker is None or step not in self.snapshots.forkable:
            return ("This point's state is not kept: fork from a marked point of the timeline "
                    "(every point of the last minute, then one a minute).")
        self.fork_lr = lr
        self.worker.request_fork_state(step)
        return None

    def request_checkpoint(self) -> bool:
        """Ask for the whole state (it comes back as run_checkpoint); False when there is no model."""
        if self.worker is None or self.info is None:
            return False
        self.worker.request_checkpoint()
        return True

    def saved_at(self, step: int) -> None:
        """Its state at `step` is in a file now."""
        self.saved_step = max(self.saved_step, step)

    @property
    def unsaved(self) -> bool:
        """Whether it trained since it was last saved (or opened, or built)."""
        return self.step > self.saved_step

    @property
    def rate(self) -> float | None:
        """Steps per second over the last two seconds of training (None when not training)."""
        if len(self._rate_window) < 2 or self.state != "training":
            return None
        (t0, s0), (t1, s1) = self._rate_window[0], self._rate_window[-1]
        return (s1 - s0) / max(t1 - t0, 1e-6)

    def file_history(self):
        """The loss curves, evaluations and held-out curve so far, for an experiment file or a CSV export."""
        from ..engine.experiment_file import History  # torch loads after the window is shown

        data = self.history.data
        return History(data[:, 0].astype(np.int64), data[:, 1].copy(),
                       {name: data[:, 2 + i].copy() for i, name in enumerate(self.history.names)},
                       tuple(self.evaluations), tuple(self.history.held_out))

    # the explorer ----------------------------------------------------------------------------
    def start_explorer(self) -> None:
        """An explorer for the running model (its view is interactive): weights reach it through
        ask_for_weights, its answers the listener's run_answer."""
        from .explorer import Explorer
        from .training_process import TrainingProcess

        self._retire_explorer()
        self.explorer = Explorer(self.experiment, self.info.dataset, self._thread_safe(Run._explorer_answer),
                                 beside_training_process=self.worker_class is TrainingProcess)

    def ask_for_weights(self, view_visible: bool, interacting: bool) -> None:
        """While the interactive view is on screen, its explorer gets the model's weights when they have
        changed: one request in flight; none for a hidden view or while the user drags a control."""
        if self.explorer is None or self.worker is None or self.info is None:
            return
        if not view_visible or self.weights_step == self.step or interacting:
            return
        now = time.perf_counter()
        if self.weights_asked_at is not None and now - self.weights_asked_at < WEIGHTS_IN_FLIGHT_S:
            return
        self.weights_asked_at = now
        self.weights_requests += 1
        self.worker.request_weights()

    def _explorer_answer(self, answer) -> None:
        if self.explorer is not None and self.explorer.is_current(answer):
            self.listener.run_answer(answer)

    # messages from the worker ------------------------------------------------------------------
    def _message(self, worker, message) -> None:
        """A worker's message, in the GUI thread. Only the current worker's count; a retired one's are
        dropped, except Stopped, which lets it go."""
        if worker is not self.worker:
            if isinstance(message, Stopped) and worker in self.retired:
                worker.join(STOP_TIMEOUT_S)  # its last reference goes in this thread, not in its own
                self.retired.remove(worker)
            return
        if isinstance(message, Stopped):
            self._worker_stopped()
            return
        handler = self.handlers.get(type(message))
        if handler is not None:
            handler(message)

    def _ready(self, ready: Ready) -> None:
        self.info = ready
        if self.history.names != ready.loss_names:   # (an opened file's curves stay)
            self.history = CurveHistory(ready.loss_names)
        self._retire_explorer()
        self.listener.run_ready(ready)
        if self.lr_on_ready is not None:  # before the first step: the run starts paused
            self.worker.set_lr(self.lr_on_ready)
            self.lr_on_ready = None
        start = self.pending_train or not self.worker.start_paused
        self.pending_train = False
        if start:
            self.worker.resume()
        self._set_state("training" if start else "paused")

    def _losses(self, points: LossPoints) -> None:
        self.history.extend(points)
        if len(points.steps):
            self.step, self.seconds = int(points.steps[-1]), float(points.seconds[-1])
            now = time.perf_counter()
            self._rate_window.append((now, self.step))
            self._rate_window = [(t, s) for t, s in self._rate_window if now - t < RATE_WINDOW_S]
        self.listener.run_losses(points)

    def _snapshot(self, snap: Snapshot) -> None:
        self.step = max(self.step, snap.step)
        oldest_left = self.snapshots.add(dataclasses.replace(snap, state=None))
        self.listener.run_snapshot(snap, oldest_left)

    def _metrics(self, event: Metrics) -> None:
        self.evaluations.append(event)
        self.listener.run_metrics(event)

    def _held_out(self, event: HeldOut) -> None:
        self.history.add_held_out(event)
        self.listener.run_held_out(event)

    def _weights(self, weights: Weights) -> None:
        self.weights_asked_at, self.weights_step = None, weights.step
        if self.explorer is not None:
            self.explorer.set_weights(weights)
            self.listener.run_weights(weights.step)

    def _diverged(self, event: Diverged) -> None:
        self.diverged = True
        self._fail(f"The loss became NaN or infinite at step {event.step}. Lower the learning rate and press Reset.")

    def _failed(self, failed: Failed) -> None:
        self._fail(f"Training stopped: {failed.message}. The app is fine: press Train to continue or Reset to "
                   "start over.")

    def _fail(self, problem: str) -> None:
        self.problem = problem
        self._set_state("failed")
        self.listener.run_failed(problem)

    def _progress(self, progress: Progress) -> None:
        self.listener.run_progress(progress)

    def _device_memory(self, message: DeviceMemory) -> None:
        self.listener.run_device_memory(message.mib)

    def _checkpoint(self, event: Checkpoint) -> None:
        self.listener.run_checkpoint(event)

    def _fork_state(self, event: ForkState) -> None:
        """The state kept at a step, asked for by fork(): the fork's document (this run's settings with
        the fork's learning rate, its curves and timeline up to the fork) goes to the listener."""
        if event.state is None or self.info is None:
            self.listener.run_problem(f"The state at step {event.step:,} is no longer kept: pick a marked point.")
            return
        from ..engine.experiment_file import ExperimentFile, History

        exp = self.experiment
        exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, lr=self.fork_lr or exp.family.lr))
        h = self.file_history()
        keep = h.steps <= event.step
        history = History(h.steps[keep], h.seconds[keep], {k: v[keep] for k, v in h.values.items()},
                          tuple(m for m in h.metrics if m.step <= event.step),
                          tuple(m for m in h.held_out if m.step <= event.step))
        # the fork keeps states of its own future only
        timeline = tuple(dataclasses.replace(s, forkable=()) for s in self.snapshots if s.step <= event.step)
        self.listener.run_fork_ready(ExperimentFile(exp, event.state, history, timeline, self.info.dataset),
                                     event.step)

    def _worker_stopped(self) -> None:
        """The worker's loop ended on its own: it diverged (NaN weights: only a fresh model helps), or its
        data or model could not be built."""
        worker, self.worker = self.worker, None
        worker.join(STOP_TIMEOUT_S)
        if self.state in ("training", "paused", "building"):
            self._set_state("failed" if self.problem else "idle")

    def _set_state(self, state: str) -> None:
        assert state in STATES, state
        self.state = state
        self.listener.run_state(state)

    # ending ------------------------------------------------------------------------------------
    def _end_record(self) -> None:
        """The run's row keeps how far it got."""
        if self.record is not None and self.record.live_run() is self:
            run_log().end(self.record, self)

    def _retire_worker(self) -> None:
        """Ask the current worker (and its explorer) to stop; their late messages are dropped."""
        self._end_record()
        self._retire_explorer()
        if self.worker is not None:
            self.worker.stop()
            self.retired.append(self.worker)
            self.worker = None

    def _retire_explorer(self) -> None:
        if self.explorer is not None:
            self.explorer.stop()
            self.retired_explorers = [e for e in self.retired_explorers if e.is_alive()] + [self.explorer]
        self.explorer, self.weights_asked_at, self.weights_step = None, None, None

    def close(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop for good: the worker and explorer are asked to stop and waited for (at most `timeout`)."""
        self._retire_worker()
        deadline = time.perf_counter() + timeout
        for thread in self.retired + self.retired_explorers:  # each was asked to stop: wait, with a time limit
            thread.join(max(0.0, deadline - time.perf_counter()))
        self.retired = [w for w in self.retired if w.is_alive()]
        self.retired_explorers = [e for e in self.retired_explorers if e.is_alive()]
        self._set_state("stopped")
