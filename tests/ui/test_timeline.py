"""The timeline keeps its last TIMELINE_LENGTH snapshots: a scrubbed position stays on the same
snapshot while new ones push the oldest out (its label, and what Fork from here forks)."""
from __future__ import annotations

import numpy as np

from genstudio.engine.events import Snapshot
from genstudio.ui.samples import TIMELINE_LENGTH, Timeline


def snap(step: int) -> Snapshot:
    return Snapshot(step, step / 10, np.zeros((2, 2), np.float32), forkable=(step,))


def test_a_scrubbed_position_keeps_its_snapshot_when_the_oldest_go(qtbot):
    timeline = Timeline()
    qtbot.addWidget(timeline)
    shown = []
    timeline.scrubbed.connect(shown.append)
    for step in range(TIMELINE_LENGTH):
        assert timeline.add(snap(step))                      # live: each one is shown
    timeline.slider.setValue(50)
    assert timeline.shown().step == 50 and shown[-1].step == 50
    for step in range(TIMELINE_LENGTH, TIMELINE_LENGTH + 30):
        assert not timeline.add(snap(step))                  # scrubbed back: not shown
        assert timeline.shown().step == 50 and timeline.label.text() == "step 50"
    assert not timeline.fork.isEnabled()                     # step 50 is not kept (only the newest is, here)
    for step in range(TIMELINE_LENGTH + 30, TIMELINE_LENGTH + 60):   # step 50 leaves the timeline
        timeline.add(snap(step))
    assert timeline.shown() is timeline.snapshots[0] and shown[-1] is timeline.snapshots[0]
    timeline.slider.setValue(timeline.slider.maximum())
    assert timeline.live and timeline.add(snap(10**6))
