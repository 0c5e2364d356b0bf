"""A Run's state machine, without a window: its messages come through a plain queue that the test
thread empties, as the window's inbox does in the GUI thread."""
from __future__ import annotations

import os
import queue
import threading
import time

import pytest
from conftest import tiny_family

from genstudio.config import default_experiment
from genstudio.live.messages import COMMANDS, Commands, Failed, Progress, Stopped
from genstudio.live.run import Run, RunListener
from genstudio.live.training_process import TrainingProcess
from genstudio.live.worker import TrainingWorker

TIMEOUT_S = 120


class Inbox:
    """The window's inbox without Qt: any thread posts, the test thread runs the calls."""

    def __init__(self):
        self.calls: queue.Queue = queue.Queue()

    def post(self, handler, *args):
        self.calls.put((handler, args))

    def pump_until(self, condition, timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            try:
                handler, args = self.calls.get(timeout=0.05)
            except queue.Empty:
                continue
            handler(*args)


class Recorder(RunListener):
    def __init__(self):
        self.states, self.ready, self.forks, self.failures, self.progress, self.problems = [], [], [], [], [], []

    def run_state(self, state):
        self.states.append(state)

    def run_ready(self, ready):
        self.ready.append(ready)

    def run_fork_ready(self, document, forked_at):
        self.forks.append((document, forked_at))

    def run_failed(self, message):
        self.failures.append(message)

    def run_problem(self, message):
        self.problems.append(message)

    def run_progress(self, progress):
        self.progress.append(progress)


def tiny(model="gan", data="ring8"):
    exp = default_experiment(model, data, device="cpu", threads=1)
    from dataclasses import replace
    return replace(exp, family=replace(exp.family, **tiny_family(model, data)))


def make_run(worker_class=TrainingWorker):
    inbox, recorder = Inbox(), Recorder()
    return Run(inbox.post, recorder, worker_class), inbox, recorder


def test_every_command_is_written_once_and_reaches_the_trainer():
    from genstudio.engine.trainer import Trainer

    assert COMMANDS == {"pause", "resume", "stop", "step_once", "request_checkpoint", "request_weights",
                        "request_fork_state", "set_hparam", "set_lr"}
    assert all(callable(getattr(Trainer, name)) for name in COMMANDS)
    for cls in (TrainingWorker, TrainingProcess):
        assert issubclass(cls, Commands) and not any(name in vars(cls) for name in COMMANDS)
    sent = []

    class Recording(Commands):
        def command(self, name, *args):
            sent.append((name, args))

    commands = Recording()
    commands.set_lr(0.5)
    commands.step_once("d")
    assert sent == [("set_lr", (0.5,)), ("step_once", ("d",))]
    with pytest.raises(ValueError):
        TrainingWorker(tiny(), lambda *a: None, True).command("format_disk")


def test_reset_while_building_drops_the_first_worker_and_builds_the_second():
    run, inbox, recorder = make_run()
    run.start(tiny("gan"))
    first = run.worker
    assert run.state == "building"
    run.start(tiny("vae"))                        # before the first one said Ready
    assert first in run.retired and run.worker is not first
    inbox.pump_until(lambda: run.state == "paused" and not run.retired)
    assert [r.loss_names for r in recorder.ready] == [run.info.loss_names]   # only the second one's
    assert run.experiment.model == "vae" and not first.is_alive()
    assert recorder.states == ["building", "building", "paused"]
    run.close()
    assert run.state == "stopped" and not run.worker


def test_train_pause_and_fork_while_paused():
    run, inbox, recorder = make_run()
    run.start(tiny("gan"), train=True)
    inbox.pump_until(lambda: run.state == "training" and max(run.snapshots.forkable, default=0) > 20)
    assert run.toggle() and run.state == "paused"
    step = max(run.snapshots.forkable)
    assert run.fork(step + 10**9, lr=0.1) is not None          # not a kept point: a problem, nothing asked
    assert run.fork(step, lr=0.0123) is None
    inbox.pump_until(lambda: recorder.forks)
    document, forked_at = recorder.forks[0]
    assert forked_at == step and document.state.step == step
    assert document.experiment.family.lr == 0.0123 and run.experiment.family.lr != 0.0123
    assert all(s.step <= step and not s.forkable for s in document.timeline)
    assert len(document.history.steps) and document.history.steps.max() <= step
    assert run.state == "paused"                               # forking does not move the run
    fork, fork_inbox, fork_recorder = make_run()
    fork.open_fork(document, "fork", forked_at)
    fork_inbox.pump_until(lambda: fork.state == "paused")
    assert fork.step == step and fork.record.forked_at == step
    for r in (run, fork):
        r.close()


def test_a_child_that_dies_is_one_failure_and_then_a_fresh_model():
    run, inbox, recorder = make_run(TrainingProcess)
    run.start(tiny("vae"), train=True)
    inbox.pump_until(lambda: run.step > 5)
    run.worker._process.kill()
    inbox.pump_until(lambda: run.state == "failed" and run.worker is None)
    assert len(recorder.failures) == 1 and "ended unexpectedly" in recorder.failures[0]
    assert run.problem == recorder.failures[0]
    assert not run.toggle()                        # nothing to continue: the caller builds a fresh model
    run.start(tiny("vae"), train=True)
    inbox.pump_until(lambda: run.state == "training" and run.step > 5)
    assert run.problem is None
    run.close()


def test_stop_during_a_download(monkeypatch):
    """Closed while its data downloads: the run stops, its worker ends once the download returns, and
    nothing of it reaches the listener after."""
    from genstudio import data

    release = threading.Event()
    real_load = data.load

    def slow_load(name, size=0, color="auto", progress=None):
        for done in range(0, 100, 10):
            progress(done, 100, "mnist.gz")
            time.sleep(0.12)
        release.wait(TIMEOUT_S)
        return real_load("ring8")

    exp = tiny("gan")
    monkeypatch.setattr(data, "load", slow_load)
    run, inbox, recorder = make_run()
    run.start(exp, train=True)
    inbox.pump_until(lambda: len(recorder.progress) >= 2)
    assert run.state == "building" and isinstance(recorder.progress[0], Progress)
    worker = run.worker
    run.close(timeout=0.1)                         # the download still runs: it is not waited for
    assert run.state == "stopped" and worker in run.retired and worker.is_alive()
    states = list(recorder.states)
    release.set()
    inbox.pump_until(lambda: not worker.is_alive() and inbox.calls.empty())
    assert not recorder.ready and recorder.states == states and not run.retired


def test_a_failed_step_keeps_the_model_and_train_continues(monkeypatch):
    run, inbox, recorder = make_run()
    run.start(tiny("gan"), train=True)
    inbox.pump_until(lambda: run.state == "training" and run.step > 3)
    run._message(run.worker, Failed("RuntimeError: boom"))   # as the worker says after an error in a step
    assert run.state == "failed" and "boom" in recorder.failures[-1]
    assert run.toggle() and run.state == "training" and run.problem is None
    step = run.step
    inbox.pump_until(lambda: run.step > step + 3)
    retired = run.worker
    run.close()
    assert not retired.is_alive()
    run._message(retired, Stopped())                          # a late message of a retired worker: dropped
    assert run.state == "stopped"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="a forkserver is POSIX only")
def test_a_training_process_obeys_the_commands():
    run, inbox, recorder = make_run(TrainingProcess)
    run.start(tiny("gan"))
    inbox.pump_until(lambda: run.state == "paused")
    run.step_once("all")
    inbox.pump_until(lambda: run.step == 1)
    assert run.set_knob("lr", 0.004) and run.experiment.family.lr == 0.004
    assert not run.set_knob("beta", 2.0)            # not a GAN's knob
    run.close()


def test_the_runs_log_keeps_the_newest_ended_states_only():
    """Twenty forks in a lesson: the newest KEPT_STATES ended ones keep their state, the rest reopen
    from their settings; a live run's is never dropped."""
    from dataclasses import dataclass

    import numpy as np

    from genstudio.engine.state import TrainerState
    from genstudio.live.history import CurveHistory
    from genstudio.live.records import KEPT_STATES, RunLog

    @dataclass(frozen=True)
    class Document:
        state: TrainerState
        dataset: object = None

    class FakeRun:
        experiment, step, seconds, evaluations, history = tiny(), 50, 1.0, [], CurveHistory()

    log, runs = RunLog(), [FakeRun() for _ in range(20)]
    for run in runs:
        run.record = log.start(run, run.experiment, "fork", Document(TrainerState(10, 0.1, {"w": np.zeros(3)}, {})))
    for run in runs[1:]:                       # the first is still live
        log.end(run.record, run)
    kept = [r.number for r in log.records if r.document is not None]
    assert kept == [1] + list(range(21 - KEPT_STATES, 21)) and len(log.records) == 20
    assert runs[0].record.live_run() is runs[0]


def test_the_runs_table_shows_a_column_per_number_and_skips_lists():
    """An image set's evaluation holds a class histogram (a list): the runs table makes columns of
    the numbers only."""
    from genstudio.engine.events import Metrics
    from genstudio.live.history import CurveHistory
    from genstudio.live.records import RunLog

    class FakeRun:
        experiment, step, seconds, history = tiny(), 50, 1.0, CurveHistory()
        evaluations = [Metrics(50, 1.0, {"fd": 12.5, "class_histogram": [0.1] * 10, "class_accuracy": 0.75})]

    log, run = RunLog(), FakeRun()
    run.record = log.start(run, run.experiment, "new", None)
    header, rows = log.table()
    assert "fd" in header and "class_accuracy" in header and "class_histogram" not in header
    assert rows[0][header.index("fd")] == "12.5" and rows[0][header.index("class_accuracy")] == "0.75"
