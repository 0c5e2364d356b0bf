"""The timeline keeps its last TIMELINE_LENGTH snapshots: a scrubbed position stays on the same
snapshot while new ones push the oldest out (its label, and what Fork from here forks)."""
from __future__ import annotations

import numpy as np

from genstudio.engine.events import Snapshot
from genstudio.live.history import TIMELINE_LENGTH, SnapshotLog
from genstudio.ui.samples import Timeline


def snap(step: int) -> Snapshot:
    return Snapshot(step, step / 10, np.zeros((2, 2), np.float32), forkable=(step,))


def test_a_scrubbed_position_keeps_its_snapshot_when_the_oldest_go(qtbot):
    timeline = Timeline(SnapshotLog())
    qtbot.addWidget(timeline)

    def add(snapshot) -> bool:   # as a run does: its log keeps the snapshot, the timeline shows it
        return timeline.added(timeline.snapshots.add(snapshot))

    shown = []
    timeline.scrubbed.connect(shown.append)
    for step in range(TIMELINE_LENGTH):
        assert add(snap(step))                      # live: each one is shown
    timeline.slider.setValue(50)
    assert timeline.shown().step == 50 and shown[-1].step == 50
    for step in range(TIMELINE_LENGTH, TIMELINE_LENGTH + 30):
        assert not add(snap(step))                  # scrubbed back: not shown
        assert timeline.shown().step == 50 and timeline.label.text() == "step 50"
    assert not timeline.fork.isEnabled()                     # step 50 is not kept (only the newest is, here)
    for step in range(TIMELINE_LENGTH + 30, TIMELINE_LENGTH + 60):   # step 50 leaves the timeline
        add(snap(step))
    assert timeline.shown() is timeline.snapshots[0] and shown[-1] is timeline.snapshots[0]
    timeline.slider.setValue(timeline.slider.maximum())
    assert timeline.live and add(snap(10**6))
