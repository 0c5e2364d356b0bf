"""Asks before a click throws away training that was not saved (Reset, Apply, new data, Open, a lesson,
closing the window): Save, Discard or Cancel, with a "Don't ask again" that the File menu undoes."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QCheckBox, QMessageBox

SETTING = "ask/before_discarding"


class UnsavedWork(QObject):
    ASK_UNLESS_TOLD = True   # what a fresh settings file means (tests that never answer turn it off)

    def __init__(self, window, settings: QSettings):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.box: QMessageBox | None = None   # the question on screen, if any

    @property
    def asking(self) -> bool:
        return self.settings.value(SETTING, self.ASK_UNLESS_TOLD, type=bool)

    def set_asking(self, on: bool) -> None:
        self.settings.setValue(SETTING, bool(on))

    def then(self, pane, doing: str, action: Callable[[], None]) -> None:
        """action() now, or once the user has saved or discarded `pane`'s unsaved training (never on
        Cancel, or when the save fails: then the message says why and the run stays as it is)."""
        run = pane.run
        if not run.unsaved or not self.asking:
            action()
            return
        if self.box is not None:   # one question at a time: a second click waits for the first answer
            return
        self.box = box = QMessageBox(QMessageBox.Question, "GenStudio", "", QMessageBox.NoButton, self.window)
        saved = f"it was last saved at step {run.saved_step:,}" if run.saved_step else "it is not saved"
        box.setText(f"This run has trained to step {run.step:,}; {saved}. Save it before {doing}?")
        box.setInformativeText("Discard throws its training away.")
        box.setStandardButtons(QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        box.setDefaultButton(QMessageBox.Save)
        box.setEscapeButton(QMessageBox.Cancel)
        dont_ask = QCheckBox("Don't ask again (File menu: Ask before discarding training)", box)
        box.setCheckBox(dont_ask)

        def answered(_result):
            button = box.standardButton(box.clickedButton()) if box.clickedButton() else QMessageBox.Cancel
            self.box = None
            box.deleteLater()
            if button == QMessageBox.Cancel:
                return
            if dont_ask.isChecked():
                self.set_asking(False)
            if button == QMessageBox.Save:
                pane.files.save_experiment(then=action)
            else:
                action()

        box.finished.connect(answered)
        box.open()
