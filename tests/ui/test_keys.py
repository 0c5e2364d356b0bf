"""The keyboard: a focused control keeps Space and the arrows; elsewhere they train and step. The Help
menu lists the shortcuts and says what GenStudio is; the main controls have accessible names."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox

from genstudio import __version__
from genstudio.ui.keys import about_text, shortcuts, show_shortcuts

from .test_main_window import TIMEOUT_MS, settled_step, start, tiny


def _paused(window, qtbot):
    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    start(window, qtbot, tiny("gan"))
    window.pane.toggle_training()
    return settled_step(window, qtbot)


def test_a_focused_button_takes_space_and_a_focused_slider_the_arrows(window, qtbot):
    step = _paused(window, qtbot)
    button = window.pane.step_button
    button.setFocus()
    qtbot.waitUntil(button.hasFocus, timeout=TIMEOUT_MS)
    qtbot.keyClick(button, Qt.Key_Space)                  # presses Step: one step, still paused
    qtbot.waitUntil(lambda: window.run.step == step + 1, timeout=TIMEOUT_MS)
    assert window.run.state == "paused"
    slider = window.pane.curves.smoothing
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=TIMEOUT_MS)
    value = slider.value()
    for _ in range(5):
        qtbot.keyClick(slider, Qt.Key_Right)
    assert slider.value() == value + 5
    qtbot.wait(300)
    assert window.run.step == step + 1 and window.run.state == "paused"   # Right did not step training


def test_space_and_right_still_train_and_step_elsewhere(window, qtbot):
    step = _paused(window, qtbot)
    plot = window.pane.samples
    plot.setFocus()
    qtbot.keyClick(plot, Qt.Key_Right)
    qtbot.waitUntil(lambda: window.run.step == step + 1, timeout=TIMEOUT_MS)
    qtbot.keyClick(plot, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.run.state == "training", timeout=TIMEOUT_MS)
    qtbot.keyClick(plot, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.run.state == "paused", timeout=TIMEOUT_MS)


def test_help_lists_the_shortcuts_and_says_what_it_is(window, qtbot):
    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    rows = dict((text, keys) for keys, text in shortcuts(window))
    assert rows["Train or pause (both runs when two are on screen)"] == "Space"
    assert rows["One training step (both runs)"] == "Right"
    assert "F11" in rows["Presenter mode"] and rows["Show the family view"] == "Ctrl+2"
    assert rows["Runs table"] == "Ctrl+T"
    dialog = show_shortcuts(window)
    assert dialog.isVisible()
    dialog.close()
    text = about_text("CPU (1 thread)")
    assert f"GenStudio {__version__}" in text and "MIT" in text and "torch" in text and "CPU (1 thread)" in text
    assert [a.text() for a in window.menuBar().actions()][-2:] == ["&View", "&Help"]


def test_the_main_controls_have_accessible_names(window, qtbot):
    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    pane = window.pane
    controls = [pane.train_button, pane.step_button, pane.reset_button, pane.timeline.slider, pane.curves.smoothing,
                pane.panel.family, pane.panel.data, pane.panel.seed]
    assert all(c.accessibleName() for c in controls), [type(c).__name__ for c in controls if not c.accessibleName()]
    assert pane.panel.family.accessibleName() == "Family"
    kinds = (QAbstractButton, QAbstractSlider, QComboBox, QAbstractSpinBox)
    unnamed = [w for kind in kinds for w in pane.panel.findChildren(kind) if w.isVisible() and not w.accessibleName()]
    assert not unnamed, unnamed
