"""Guided lessons in the window: every built-in lesson walks through, a step's wait lights Next
once training reaches it, and a bad lesson file is one message."""
from __future__ import annotations

import json

from genstudio.lessons import builtin_lessons

TIMEOUT_MS = 120_000


def test_every_builtin_lesson_sets_up_each_step(window, qtbot):
    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    panel = window.lessons
    lessons = builtin_lessons()
    assert len(lessons) == 9
    for lesson in lessons:
        assert panel.open_file(lesson.path) and panel.isVisible()
        for index, step in enumerate(lesson.steps):
            panel.go(index)
            assert panel.counter.text() == f"Step {index + 1} of {len(lesson.steps)}"
            assert panel.text.text() == step.text
            exp = step.experiment()
            assert (window.run.experiment.model, window.run.experiment.data) == (exp.model, exp.data)
            assert window.pane.panel.experiment().family == exp.family
            if step.view == "family":
                assert window.pane.tabs.currentWidget() is window.pane.family_tab
                view = window.pane.family_tab.currentWidget()
                assert view is window.pane.family_views[exp.model]
                if step.page:
                    assert view.pages.tabText(view.pages.currentIndex()) == step.page
            else:
                assert window.pane.tabs.currentIndex() == 0
            beside = step.beside_experiment()
            if beside is None:
                assert window.comparison is None
            else:   # a second run beside the first, on the same page of its view
                guest = window.comparison.guest
                assert guest.panel.experiment().family == beside.family and guest.run.experiment.data == beside.data
                if step.page:
                    view = guest.family_tab.currentWidget()
                    assert view.pages.tabText(view.pages.currentIndex()) == step.page
            assert panel.next_button.isEnabled() == (step.reached(window.run.step, {})
                                                     and index < len(lesson.steps) - 1)
    panel.end()
    assert not panel.isVisible()


def test_next_lights_up_when_the_wait_is_reached(window, qtbot):
    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    panel = window.lessons
    lesson = builtin_lessons()[0]
    index = next(i for i, s in enumerate(lesson.steps) if s.wait_step)
    assert panel.open_file(lesson.path)
    panel.go(index)
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)
    assert not panel.next_button.isEnabled() and "train to step" in panel.waiting.text()
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: panel.next_button.isEnabled(), timeout=TIMEOUT_MS)
    assert window.run.step >= lesson.steps[index].wait_step and "press Next" in panel.waiting.text()
    run = window.run.experiment
    panel.go(index + 1)  # the same preset: the run goes on
    assert window.run.experiment is run


def test_a_malformed_lesson_is_one_message(window, qtbot, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"format": 1, "title": "x",
                               "steps": [{"text": "t", "preset": "gan:9", "view": "samples"}]}))
    assert not window.lessons.open_file(str(bad))
    assert "broken.json" in window.last_problem and "gan:9" in window.last_problem
    assert "\n" not in window.last_problem and not window.lessons.isVisible()
    window.problem_box.close()


def test_a_head_wait_lights_next_once_a_head_shows_the_pattern(window, qtbot):
    import numpy as np

    from genstudio.engine.events import Snapshot

    lesson = next(lesson for lesson in builtin_lessons() if lesson.title == "What a transformer looks at")
    index = next(i for i, step in enumerate(lesson.steps) if step.wait_head == "previous")
    panel = window.lessons
    assert panel.open_file(lesson.path)
    panel.go(index)
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)
    assert not panel.next_button.isEnabled()
    n = 6
    spread = np.tril(np.ones((2, 2, n, n), np.float16))
    spread /= spread.sum(-1, keepdims=True)
    previous = spread.copy()
    previous[1, 0] = np.eye(n, k=-1) + np.eye(n)[0] * (np.arange(n)[:, None] == 0)   # one head looks one back
    tokens = np.array([3, 4, 5, 6, 7, 0, -1])
    window.run.snapshots.add(Snapshot(10, 1.0, None, probe={"input": tokens, "sequence": spread}))
    panel._poll()
    assert not panel.next_button.isEnabled()
    window.run.snapshots.add(Snapshot(20, 2.0, None, probe={"input": tokens, "sequence": previous}))
    panel._poll()
    assert panel.next_button.isEnabled()
    assert "60% of its attention on one position back" in lesson.steps[index].wait_text()
    panel.end()


def test_a_past_best_wait_lights_next_once_the_held_out_curve_has_turned_up(window, qtbot):
    import numpy as np

    from genstudio.engine.events import HeldOut, LossPoints

    lesson = next(lesson for lesson in builtin_lessons() if lesson.title.startswith("Overfitting"))
    step = lesson.steps[0]
    panel = window.lessons
    assert panel.open_file(lesson.path)
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)
    run = window.run

    def trained_to(step_number, held_out):
        run.handlers[LossPoints](LossPoints(np.array([step_number]), np.array([1.0]), {"loss": np.array([2.0])}))
        best = min([*run.history.held_out, HeldOut(step_number, 1.0, 1.0, held_out)], key=lambda m: m.held_out)
        run.handlers[HeldOut](HeldOut(step_number, 1.0, 1.5, held_out, best.step))
        panel._poll()

    trained_to(100, 2.2)
    trained_to(300, 2.0)
    trained_to(300 + step.wait_past_best - 1, 2.05)
    assert not panel.next_button.isEnabled() and "steps behind" in panel.waiting.text()
    trained_to(300 + step.wait_past_best, 2.1)
    assert panel.next_button.isEnabled() and panel.waiting.text().startswith("✓")
    panel.end()
