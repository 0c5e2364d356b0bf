"""A run's files (the File menu acts on the window's run): open data (with a preview), open and save
experiment files, exports.

Reading and writing run in plain threads (the data and snapshots are immutable) that never touch
Qt: their results come back through the window's inbox (ui/threads.py). A bad file gives one
message and changes nothing that is open.
"""
from __future__ import annotations

import dataclasses
import os
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..storage import atomic_path, write_text

EXPERIMENT_FILTER = "GenStudio experiment (*.genstudio)"
EXPERIMENT_SUFFIX = ".genstudio"  # engine.experiment_file.SUFFIX, without importing torch with the window


class RunFiles(QObject):
    job_done = Signal(str, bool)          # message, ok: a background read or write has ended (GUI thread)

    def __init__(self, pane):
        super().__init__(pane)
        self.pane = pane
        self.path: str | None = None       # the experiment file last opened or saved
        self.pending_save: str | None = None
        self.preview = None
        self.jobs: list[threading.Thread] = []

    def build_menu(self, menu) -> None:
        menu.addAction("Open data file…", self.open_data_dialog, QKeySequence("Ctrl+D"))
        menu.addAction("Open image folder…", self.open_folder_dialog)
        menu.addSeparator()
        menu.addAction("Open experiment…", self.open_experiment_dialog, QKeySequence.Open)
        menu.addAction("Save experiment", self.save_experiment, QKeySequence.Save)
        menu.addAction("Save experiment as…", self.save_experiment_as, QKeySequence("Ctrl+Shift+S"))
        menu.addSeparator()
        def export(name, pattern, write):
            return lambda: self.export_dialog(name, pattern, write)

        exports = menu.addMenu("Export")
        exports.addAction("Samples as PNG…", export("samples.png", "PNG (*.png)", self.export_samples))
        exports.addAction("Timeline as GIF…", export("timeline.gif", "GIF (*.gif)", self.export_timeline))
        self.mp4_action = exports.addAction("Timeline as MP4…",
                                            export("timeline.mp4", "MP4 (*.mp4)", self.export_timeline))
        from ..engine.render import mp4_encoder
        if mp4_encoder() is None:
            self.mp4_action.setEnabled(False)
            self.mp4_action.setText("Timeline as MP4… (needs ffmpeg)")
        exports.addAction("Loss curves as CSV…", export("metrics.csv", "CSV (*.csv)", self.export_metrics_csv))
        exports.addAction("Plot as PNG…", export("curves.png", "PNG (*.png)", self.export_plot))

    # where files are -------------------------------------------------------------------------------
    def folder(self) -> str:
        return self.pane.recent.folder() if self.pane.recent is not None else ""

    def in_folder(self, name: str) -> str:
        return self.pane.recent.in_folder(name) if self.pane.recent is not None else name

    def used(self, path: str, recent: bool = True) -> None:
        if self.pane.recent is not None:
            self.pane.recent.used(path, recent)

    # background work -----------------------------------------------------------------------------
    def _background(self, work, then=None, failed=None) -> threading.Thread:
        """Run work() -> message in a thread; its outcome arrives in the GUI thread as job_done(message,
        ok), followed by then() when it succeeded, or by failed(message) instead of the problem box."""
        post = self.pane.post

        def run():
            try:
                message = work()
            except (OSError, ValueError) as exc:  # DataError, ConfigError and disk errors: say what happened
                text = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else str(exc)
                post(self._job_done, text.splitlines()[0] if text else type(exc).__name__, False, failed)
            except Exception as exc:  # anything else still ends as a message, never a silent thread
                post(self._job_done, f"{type(exc).__name__}: {exc}".splitlines()[0], False, failed)
            else:
                post(self._job_done, message, True)
                if then is not None:
                    post(then)

        thread = threading.Thread(target=run, daemon=True)
        self.jobs = [t for t in self.jobs if t.is_alive()] + [thread]
        thread.start()
        return thread

    def _job_done(self, message: str, ok: bool, failed=None):
        self.job_done.emit(message, ok)
        if ok:
            if message:
                self.pane.message.emit(message, 8000)
        elif failed is not None:
            failed(message)
        else:
            self.pane.report_problem(message)

    # data in -------------------------------------------------------------------------------------
    def open_data_dialog(self):
        from ..data.importers import DATA_EXTENSIONS
        patterns = " ".join(f"*{e}" for e in DATA_EXTENSIONS if e.startswith(".")) + " *-ubyte"
        path, _ = QFileDialog.getOpenFileName(self.pane, "Open data", self.folder(),
                                              f"Data ({patterns});;All files (*)")
        if path:
            self.open_data(path)

    def open_folder_dialog(self):
        path = QFileDialog.getExistingDirectory(self.pane, "Open a folder of images (subfolders as labels)",
                                                self.folder())
        if path:
            self.open_data(path)

    def open_data(self, path: str, size: int = 0, color: str = "auto") -> threading.Thread:
        """Import in the background, then preview (the panel changes only when the user accepts)."""
        from .. import data

        self.pane.message.emit(f"Reading {os.path.basename(path)}…", 0)
        post = self.pane.post

        def work():
            ds = data.load(path, size, color)
            post(self.used, path)
            post(self._show_preview, path, ds)
            return f"Read {os.path.basename(os.path.normpath(path))}"

        return self._background(work)

    def _show_preview(self, path: str, ds):
        from .data_preview import DataPreview

        if self.preview is not None and self.preview.path == path:
            self.preview.show_dataset(ds)
            return
        if self.preview is not None:
            self.preview.close()
        self.preview = DataPreview(path, ds, self.pane)
        self.preview.options_changed.connect(lambda size, color: self.open_data(path, size, color))
        self.preview.accepted.connect(lambda: self._use_data(path, *self.preview.options()))
        self.preview.finished.connect(self._preview_closed)
        self.preview.open()

    def _use_data(self, path: str, size: int, color: str) -> None:
        name = os.path.basename(os.path.normpath(path))
        self.pane.ask_first(f"training on {name}", lambda: self.pane.use_data(path, size, color))

    def _preview_closed(self, *_):
        self.preview.deleteLater()
        self.preview = None

    # experiment files -----------------------------------------------------------------------------
    def open_experiment_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self.pane, "Open experiment", self.folder(),
                                              f"{EXPERIMENT_FILTER};;All files (*)")
        if path:
            self.open_experiment(path)

    def open_experiment(self, path: str, opened=None, failed=None) -> threading.Thread:
        """Read and check the file in the background; only a good file replaces the open run (after
        the user has saved or discarded its unsaved training). `opened` follows a good file,
        `failed(message)` replaces the problem message of a bad one."""
        from ..engine import experiment_file

        self.pane.message.emit(f"Reading {os.path.basename(path)}…", 0)
        post = self.pane.post

        def work():
            doc = experiment_file.load(path)
            post(self.pane.ask_first, f"opening {os.path.basename(path)}", lambda: self._show_opened(path, doc, opened))
            return ""

        return self._background(work, failed=failed)

    def _show_opened(self, path: str, doc, opened=None) -> None:
        device, note = doc.experiment.device, ""
        if device not in ("auto", "cpu"):
            from ..engine.device import available_devices
            if device not in available_devices():  # saved on a GPU machine: continue on what is here
                doc = dataclasses.replace(doc, experiment=dataclasses.replace(doc.experiment, device="auto"))
                note = f" ({device} is not available here: using auto)"
        self.pane.open_document(doc, f"opened {os.path.basename(path)}")
        self._set_path(path)
        self.used(path)
        self.pane.message.emit(f"Opened {os.path.basename(path)} at step {doc.state.step:,}: "
                               f"press Train to continue{note}", 8000)
        if opened is not None:
            opened()

    def save_experiment(self, then=None) -> None:
        """Save to the file last opened or saved (asking for a name the first time); then() follows
        once the file is written."""
        if self.path is None:
            self.save_experiment_as(then)
        else:
            self.save_to(self.path, then)

    def save_experiment_as(self, then=None):
        path, _ = QFileDialog.getSaveFileName(self.pane, "Save experiment", self.in_folder("experiment.genstudio"),
                                              EXPERIMENT_FILTER)
        if path and not path.endswith(EXPERIMENT_SUFFIX):
            path += EXPERIMENT_SUFFIX   # (the dialog asked about the name without it)
            if os.path.exists(path) and not self.may_replace(path):
                return
        if path:
            self.save_to(path, then)

    def may_replace(self, path: str) -> bool:
        answer = QMessageBox.question(self.pane, "Save experiment",
                                      f"{os.path.basename(path)} already exists. Replace it?",
                                      QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def save_to(self, path: str, then=None) -> None:
        """Ask the training thread for its state; the write happens when it arrives (write_checkpoint)."""
        run = self.pane.run
        if run.request_checkpoint():  # also after an error: the model is kept, paused
            self.pending_save = (path, then)
        elif run.diverged:
            self.pane.report_problem("This run diverged (its weights are NaN): there is nothing to save. Press Reset.")
        else:
            self.pane.report_problem("Nothing to save yet: the model is still being built, or there is none. "
                             "Press Train (or Reset) first.")

    def write_checkpoint(self, event) -> None:
        if self.pending_save is not None:
            (path, then), self.pending_save = self.pending_save, None
            self._write(path, self.pane.run.experiment, event.state, event.fork_points, then)

    def _write(self, path, exp, state, fork_points=(), then=None) -> threading.Thread:
        from ..engine import experiment_file
        run = self.pane.run
        ds = run.info.dataset if run.info is not None else None
        doc = experiment_file.ExperimentFile(exp, state, run.file_history(), tuple(run.snapshots),
                                             ds if experiment_file.embeds_data(exp) else None, fork_points)
        self._set_path(path)
        kept = f", with {len(fork_points)} points to fork from" if fork_points else ""

        post = self.pane.post

        def work():
            experiment_file.save(path, doc)
            post(run.saved_at, state.step)
            post(self.used, path)
            return f"Saved {os.path.basename(path)} at step {state.step:,}{kept}"

        return self._background(work, then)

    def forget_path(self):
        """A new run is not the file that was open: the next Save asks for a name."""
        self.path = None
        self.pane.title_changed.emit("")

    def _set_path(self, path):
        self.path = path
        if self.pane.run.record is not None:
            self.pane.run.record.path = path   # the runs table reopens the run from its file
        self.pane.title_changed.emit(os.path.basename(path))

    # exports ------------------------------------------------------------------------------------------
    def export_dialog(self, name, pattern, export):
        path, _ = QFileDialog.getSaveFileName(self.pane, "Export", self.in_folder(name), pattern)
        if path:
            self.used(path, recent=False)
            export(path)

    def _nothing_yet(self) -> bool:
        if self.pane.run.info is None or not self.pane.run.snapshots:
            self.pane.report_problem("Nothing to export yet: train first.")
            return True
        return False

    def export_samples(self, path: str) -> threading.Thread | None:
        """The samples on screen (the live ones, or the snapshot scrubbed to)."""
        if self._nothing_yet():
            return None
        from ..engine.render import render_samples, save_png
        snap, ds = self.pane.shown_snapshot, self.pane.run.info.dataset

        def work():
            save_png(render_samples(snap.samples, ds), path)
            return f"Wrote the samples of step {snap.step:,} to {path}"

        return self._background(work)

    def export_timeline(self, path: str) -> threading.Thread | None:
        """The timeline as an animated GIF, or an MP4 when the path says so (and ffmpeg is there)."""
        if self._nothing_yet():
            return None
        from ..engine.render import render_samples, save_gif, save_mp4
        snaps, ds = list(self.pane.run.snapshots), self.pane.run.info.dataset
        save = save_mp4 if path.lower().endswith(".mp4") else save_gif

        def work():
            save([render_samples(s.samples, ds) for s in snaps], path)
            return f"Wrote {len(snaps)} frames to {path}"

        return self._background(work)

    def export_metrics_csv(self, path: str) -> threading.Thread | None:
        hist = self.pane.run.file_history()
        if not len(hist.steps):
            self.pane.report_problem("No losses to export yet: train first.")
            return None
        from ..engine.experiment_file import history_csv

        def work():
            write_text(path, history_csv(hist))
            return f"Wrote {len(hist.steps):,} rows to {path}"

        return self._background(work)

    def export_plot(self, path: str) -> bool:
        """The loss plot as it looks now (grabbing a widget must happen in the GUI thread)."""
        pixmap = self.pane.curves.plot.grab()
        try:
            with atomic_path(path) as tmp:
                if not pixmap.save(tmp, "PNG"):
                    raise OSError(f"could not write {path}")
        except OSError as exc:
            self.pane.report_problem(f"Could not write {path}: {exc.strerror or exc}")
            return False
        self.pane.message.emit(f"Wrote the plot to {path}", 8000)
        return True
