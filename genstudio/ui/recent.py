"""Where files come from: the folder file dialogs start in (the last one used, else the user's
documents) and the File menu's Open Recent (experiments, lessons and data, newest first)."""
from __future__ import annotations

import json
import os

from PySide6.QtCore import QSettings, QStandardPaths

RECENT_KEPT = 8


class RecentFiles:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def folder(self) -> str:
        """The folder a file dialog opens in."""
        folder = str(self.settings.value("files/folder", "") or "")
        if folder and os.path.isdir(folder):
            return folder
        return QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or os.path.expanduser("~")

    def in_folder(self, name: str) -> str:
        """A suggested file name for a save dialog, in the folder it opens in."""
        return os.path.join(self.folder(), name)

    def used(self, path: str, recent: bool = True) -> None:
        """A file the user opened or saved: dialogs start in its folder; `recent`: Open Recent lists it."""
        path = os.path.abspath(path)
        self.settings.setValue("files/folder", path if os.path.isdir(path) else os.path.dirname(path))
        if recent:
            paths = [p for p in self.paths() if p != path]
            self.settings.setValue("files/recent", json.dumps([path, *paths][:RECENT_KEPT]))

    def paths(self) -> list[str]:
        """Open Recent's files, newest first (a damaged setting reads as none)."""
        try:
            paths = json.loads(str(self.settings.value("files/recent", "[]")))
        except ValueError:
            return []
        return [p for p in paths if isinstance(p, str)][:RECENT_KEPT] if isinstance(paths, list) else []

    def fill_menu(self, menu, open_path) -> None:
        """Open Recent's entries (the ones still there), and a way to empty it."""
        menu.clear()
        present = [p for p in self.paths() if os.path.exists(p)]
        for path in present:
            menu.addAction(os.path.basename(os.path.normpath(path)), lambda p=path: open_path(p)).setToolTip(path)
        if not present:
            menu.addAction("(nothing yet)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear the list", lambda: self.settings.setValue("files/recent", "[]"))
