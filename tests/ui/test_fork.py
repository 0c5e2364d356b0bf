"""Fork from the past in the window: marked points, and a forked run that starts from exactly the
kept state, with its own learning rate, beside the original in its window."""
from __future__ import annotations

from dataclasses import replace

import torch
from PySide6.QtCore import QPoint

from genstudio.config import default_experiment
from genstudio.engine.events import ForkState
from genstudio.live.records import run_log

from .test_main_window import TIMEOUT_MS, checkpoint, settled_step, start


def kept_state(window, qtbot, step):
    got, real = [], window.run.handlers[ForkState]
    window.run.handlers[ForkState] = got.append
    try:
        window.run.worker.request_fork_state(step)
        qtbot.waitUntil(lambda: bool(got), timeout=TIMEOUT_MS)
    finally:
        window.run.handlers[ForkState] = real
    return got[0].state


def test_fork_from_a_marked_point_starts_beside_from_exactly_its_state(window, qtbot):
    exp = default_experiment("vae", "ring8")
    exp = replace(exp, family=replace(exp.family, width=32))
    start(window, qtbot, exp)
    timeline = window.pane.timeline
    qtbot.waitUntil(lambda: window.run.step > 300 and len(timeline.forkable) >= 3, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)
    marked = [i for i, s in enumerate(timeline.snapshots) if s.step in timeline.forkable]
    index = marked[len(marked) // 2]
    timeline.slider.setValue(index)
    snap = timeline.shown()
    assert timeline.fork.isEnabled() and snap.step in timeline.forkable and 0 < snap.step < window.run.step
    unmarked = [i for i in range(len(timeline.snapshots)) if i not in marked]
    if unmarked:
        timeline.slider.setValue(unmarked[0])
        assert not timeline.fork.isEnabled()
        timeline.slider.setValue(index)

    lr = exp.family.lr / 10
    window.fork_from(snap, lr=lr)
    qtbot.waitUntil(lambda: window.comparison is not None and window.comparison.guest.run.info is not None
                    and window.comparison.guest.run.state == "paused", timeout=TIMEOUT_MS)
    fork = window.comparison.guest
    try:
        assert fork.run.step == snap.step and fork.isVisible() and fork.window() is window   # in the same window
        assert fork.mapTo(window, QPoint(0, 0)).x() > window.pane.tabs.mapTo(window, QPoint(0, 0)).x()   # to its right
        kept = kept_state(window, qtbot, snap.step)
        state = checkpoint(fork, qtbot).state                           # the fork before its first step
        assert state.step == kept.step == snap.step
        for key, value in kept.tensors.items():
            if key.startswith(("model.", "optim.")):
                assert torch.equal(state.tensors[key], value), key
        groups = [g for opt in state.meta["optimizers"] for g in opt["param_groups"]]
        assert groups and all(g["lr"] == lr for g in groups)
        assert window.run.experiment.family.lr == exp.family.lr         # the original keeps its own
        assert max(fork.curves.history.data[:, 0]) <= snap.step         # its curves up to the fork
        fork.toggle_training()
        qtbot.waitUntil(lambda: fork.run.step > snap.step + 20, timeout=TIMEOUT_MS)
        assert fork.run.record.origin == f"fork of run {window.run.record.number} at step {snap.step:,}"
        record = fork.run.record
        window.end_comparison()                                        # the runs table reopens it from the kept state
        again = window.reopen_run(record)
        qtbot.waitUntil(lambda: again.run.state == "paused", timeout=TIMEOUT_MS)
        assert again.run.step == snap.step and again.run.experiment.family.lr == lr
        state = checkpoint(again, qtbot).state
        assert all(torch.equal(state.tensors[k], v) for k, v in kept.tensors.items() if k.startswith("model."))
    finally:
        window.end_comparison()


def test_a_second_run_beside_with_the_same_seed_and_settings_draws_the_same_curves(window, qtbot):
    exp = default_experiment("gan", "ring8")
    window.pane.panel.set_experiment(replace(exp, family=replace(exp.family, width=32)))
    window.pane.reset()
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)
    other = window.run_beside()
    try:
        qtbot.waitUntil(lambda: other.run.state == "paused", timeout=TIMEOUT_MS)
        assert other.run.experiment == window.run.experiment
        window.comparison.toggle_both()
        qtbot.waitUntil(lambda: window.run.step > 150 and other.run.step > 150, timeout=TIMEOUT_MS)
        a, b = window.pane.curves.history.data, other.curves.history.data
        n = min(len(a), len(b), 150)
        assert n >= 100 and (a[:n, 0] == b[:n, 0]).all()
        assert (a[:n, 2:] == b[:n, 2:]).all()          # every loss, step for step (seconds differ)
    finally:
        window.end_comparison()


def test_settings_applied_to_a_fork_before_it_trains_fork_again_from_the_same_state(window, qtbot):
    exp = default_experiment("gan", "ring8")
    exp = replace(exp, family=replace(exp.family, width=32))
    start(window, qtbot, exp)
    qtbot.waitUntil(lambda: window.run.step > 200 and len(window.pane.timeline.forkable) >= 2, timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    settled_step(window, qtbot)
    snap = next(s for s in window.pane.timeline.snapshots if s.step in window.pane.timeline.forkable and s.step > 0)
    window.fork_from(snap, lr=exp.family.lr)
    qtbot.waitUntil(lambda: window.comparison is not None and window.comparison.guest.run.state == "paused",
                    timeout=TIMEOUT_MS)
    fork = window.comparison.guest
    first = fork.run.record
    kept = kept_state(window, qtbot, snap.step)
    fork.panel.knobs["loss"].setCurrentText("ns")              # as the user picks it in the fork's settings
    assert fork.panel.apply_button.isVisibleTo(fork.panel)    # not a live knob: Apply is offered
    fork.panel.apply_button.click()
    qtbot.waitUntil(lambda: fork.run.record is not first and fork.run.state == "paused", timeout=TIMEOUT_MS)
    assert (fork.run.step == snap.step and fork.run.experiment.family.loss == "ns"
            and fork.run.record.forked_at == snap.step)
    state = checkpoint(fork, qtbot).state
    assert all(torch.equal(state.tensors[k], v) for k, v in kept.tensors.items() if k.startswith("model."))
    assert first not in run_log().records                      # it never trained a step of its own
    window.end_comparison()
