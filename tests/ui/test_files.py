"""The window's files: open data with a preview, save / open / resume experiments, exports, drops,
and bad files that change nothing that is open."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from .test_main_window import TIMEOUT_MS, running_model, settled_step, start, tiny

CORPUS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "corpus")



def open_experiment(window, qtbot, path: str) -> bool:
    """Open an experiment file (read in the background) and wait for the outcome: whether it opened."""
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS) as done:
        window.pane.files.open_experiment(path)
    return done.args[1]

def _close_problem(window):
    if window.problem_box is not None:
        window.problem_box.close()


def _paused_after(window, qtbot, exp, steps, snapshots=1):
    start(window, qtbot, exp)
    qtbot.waitUntil(lambda: window.run.step >= steps and len(window.pane.timeline.snapshots) >= snapshots,
                    timeout=TIMEOUT_MS)
    window.pane.toggle_training()
    return settled_step(window, qtbot)


def _digits_npy(tmp_path):
    """40 8x8 images: a bright square whose position encodes the index (so pixels can be checked)."""
    x = np.zeros((40, 8, 8), np.uint8)
    for i in range(40):
        x[i, i % 8, (i // 8) % 8] = 255
    path = tmp_path / "squares.npy"
    np.save(path, x)
    return path


def test_open_data_previews_then_trains_on_it(window, qtbot, tmp_path):
    path = _digits_npy(tmp_path)
    window.pane.files.open_data(str(path))
    qtbot.waitUntil(lambda: window.pane.files.preview is not None and window.pane.files.preview.isVisible(),
                    timeout=TIMEOUT_MS)
    preview = window.pane.files.preview
    assert "40 images" in preview.summary.text() and "8x8" in preview.summary.text()
    assert not preview.picture.pixmap().isNull()
    assert preview.size.isVisible()  # images offer a size and colour
    preview.accept()
    assert window.pane.panel.data.currentData() == str(path)
    assert window.pane.panel.data.currentText() == "squares.npy"
    qtbot.waitUntil(lambda: window.run.info is not None, timeout=TIMEOUT_MS)
    assert window.run.info.dataset.source == os.path.abspath(path)
    assert window.run.info.dataset.x.shape[1:] == (1, 8, 8)
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.step > 5, timeout=TIMEOUT_MS)


def test_preview_resizes_images_on_request(window, qtbot, tmp_path):
    path = _digits_npy(tmp_path)
    window.pane.files.open_data(str(path))
    qtbot.waitUntil(lambda: window.pane.files.preview is not None, timeout=TIMEOUT_MS)
    preview = window.pane.files.preview
    preview.size.setCurrentIndex(preview.size.findData(16))
    qtbot.waitUntil(lambda: preview.dataset.x.shape[-1] == 16, timeout=TIMEOUT_MS)
    preview.accept()
    exp = window.pane.panel.experiment()
    assert (exp.data_size, exp.data) == (16, str(path))


def test_text_preview_has_no_image_options(window, qtbot, tmp_path):
    path = tmp_path / "pets.txt"
    path.write_text("\n".join(["rex", "fido", "tom", "kitty", "bella", "max", "luna", "coco", "milo", "daisy"]))
    window.pane.files.open_data(str(path))
    qtbot.waitUntil(lambda: window.pane.files.preview is not None, timeout=TIMEOUT_MS)
    assert not window.pane.files.preview.size.isVisible()
    assert "10 items" in window.pane.files.preview.summary.text()
    window.pane.files.preview.reject()


def _corpus_cases():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data_corpus", os.path.join(CORPUS, "make_data_corpus.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def test_every_bad_data_file_keeps_what_is_open(window, qtbot):
    """The whole corpus, opened one after the other while a model is open: each gets one message
    naming the file, nothing opens a preview, and the open run carries on afterwards."""
    at = _paused_after(window, qtbot, tiny("gan"), 10)
    before = window.pane.panel.experiment()
    cases = _corpus_cases()
    for entry, keyword, named, _ in cases:
        window.last_problem = None
        window.pane.files.open_data(os.path.join(CORPUS, "data", entry))
        qtbot.waitUntil(lambda: window.last_problem is not None, timeout=TIMEOUT_MS)
        assert named in window.last_problem and keyword in window.last_problem, (entry, window.last_problem)
        assert "\n" not in window.last_problem and window.problem_box.isVisible()
        assert window.pane.files.preview is None
    assert len(cases) >= 40
    assert window.pane.panel.experiment() == before and window.run.state == "paused" and window.run.step == at
    _close_problem(window)
    window.pane.toggle_training()  # the open run goes on
    qtbot.waitUntil(lambda: window.run.step > at + 5, timeout=TIMEOUT_MS)


def test_save_open_resume(window, qtbot, tmp_path):
    at = _paused_after(window, qtbot, tiny("vae"), 30)
    weights = running_model(window, qtbot).state_dict()
    history_len, timeline_len = len(window.pane.curves.history.data), len(window.pane.timeline.snapshots)
    path = str(tmp_path / "vae.genstudio")
    window.redraw()
    assert window.run.unsaved and window.isWindowModified()     # the title's "*": trained, not saved
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS) as saved:
        window.pane.files.save_to(path)
    assert saved.args[1] is True and "Saved" in saved.args[0]
    assert window.windowTitle() == "GenStudio — vae.genstudio[*]"
    window.redraw()
    assert not window.run.unsaved and not window.isWindowModified()

    window.pane.reset()  # something else is open now
    qtbot.waitUntil(lambda: window.run.state == "paused" and window.run.step == 0, timeout=TIMEOUT_MS)
    assert open_experiment(window, qtbot, path)
    qtbot.waitUntil(lambda: window.run.state == "paused" and window.run.info is not None, timeout=TIMEOUT_MS)
    assert window.run.step == at and not window.run.unsaved    # as it was saved
    restored = running_model(window, qtbot).state_dict()
    assert all(torch.equal(weights[k], restored[k]) for k in weights)
    assert len(window.pane.curves.history.data) == history_len
    assert len(window.pane.timeline.snapshots) >= timeline_len
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.step > at + 5, timeout=TIMEOUT_MS)


def test_save_while_training(window, qtbot, tmp_path):
    start(window, qtbot, tiny("gan"))
    qtbot.waitUntil(lambda: window.run.step > 10, timeout=TIMEOUT_MS)
    path = str(tmp_path / "live.genstudio")
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS):
        window.pane.files.save_to(path)
    assert window.run.state == "training"
    from genstudio.engine import experiment_file
    assert experiment_file.load(path).state.step > 10


def test_every_bad_experiment_file_keeps_what_is_open(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a pickle payload would create genstudio-pwned.txt
    at = _paused_after(window, qtbot, tiny("gan"), 10)
    worker, snapshots = window.run.worker, len(window.pane.timeline.snapshots)
    names = sorted(os.listdir(os.path.join(CORPUS, "experiments")))
    for name in names:
        assert not open_experiment(window, qtbot, os.path.join(CORPUS, "experiments", name))
        assert window.last_problem.startswith(name) and window.problem_box.isVisible()
    assert len(names) == 16
    assert window.run.worker is worker and window.run.step == at and len(window.pane.timeline.snapshots) == snapshots
    assert not os.path.exists("genstudio-pwned.txt")
    _close_problem(window)


def test_nothing_to_save_or_export_says_so(window, qtbot, tmp_path):
    window.pane.files.export_samples(str(tmp_path / "x.png"))
    assert "Nothing to export" in window.last_problem
    _close_problem(window)


def test_exports(window, qtbot, tmp_path):
    _paused_after(window, qtbot, tiny("gan"), 20, snapshots=2)
    window.pane.files.export_samples(str(tmp_path / "samples.png")).join(60)
    with Image.open(tmp_path / "samples.png") as img:
        assert img.size[0] > 100
    window.pane.files.export_metrics_csv(str(tmp_path / "losses.csv")).join(60)
    rows = (tmp_path / "losses.csv").read_text().splitlines()
    assert rows[0] == "step,seconds,d_loss,g_loss,penalty" and len(rows) == len(window.pane.curves.history.data) + 1
    assert window.pane.files.export_plot(str(tmp_path / "plot.png"))
    with Image.open(tmp_path / "plot.png") as img:
        assert img.size[0] > 100
    from genstudio.engine.render import mp4_encoder
    if mp4_encoder() is not None:
        window.pane.files.export_timeline(str(tmp_path / "timeline.mp4")).join(120)
        head = (tmp_path / "timeline.mp4").read_bytes()[:12]
        assert head[4:8] == b"ftyp"
    assert not window.last_problem


def test_export_to_a_folder_that_is_not_there_says_so(window, qtbot, tmp_path):
    _paused_after(window, qtbot, tiny("gan"), 5)
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS) as done:
        window.pane.files.export_samples(str(tmp_path / "missing" / "x.png"))
    assert done.args[1] is False and window.last_problem == f"{tmp_path / 'missing'}: no such folder"
    _close_problem(window)


def test_dropping_files(window, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    path = _digits_npy(tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.pane.files.preview is not None, timeout=TIMEOUT_MS)
    window.pane.files.preview.reject()


def test_draw_points_then_train_on_them(window, qtbot):
    from PySide6.QtCore import Qt

    from genstudio.ui.draw_points import SPRAY_POINTS

    _paused_after(window, qtbot, tiny("gan"), 1)
    assert window.pane.draw_bar.isVisible() and not window.pane.draw_use.isEnabled()
    window.pane.draw_button.setChecked(True)
    viewport = window.pane.samples.plot.viewport()
    qtbot.mouseClick(viewport, Qt.LeftButton, pos=viewport.rect().center())  # a real click sprays points
    assert window.pane.drawer.count == SPRAY_POINTS
    for _ in range(10):  # two blobs, left and right
        window.pane.drawer.spray(-2.0, 0.0)
        window.pane.drawer.spray(2.0, 0.0)
    drawn = window.pane.drawer.count
    path = window.pane.train_on_drawing()
    assert path and window.pane.drawer.count == 0 and not window.pane.draw_button.isChecked()
    qtbot.waitUntil(lambda: window.run.info is not None and window.run.info.dataset.source == path, timeout=TIMEOUT_MS)
    ds = window.run.info.dataset
    assert ds.kind == "points" and len(ds.x) + len(ds.held_out) == drawn
    assert (ds.x[:, 0] < -1).any() and (ds.x[:, 0] > 1).any()
    window.pane.toggle_training()
    qtbot.waitUntil(lambda: window.run.step > 5, timeout=TIMEOUT_MS)


def test_draw_bar_is_for_2d_data_only(window, qtbot):
    _paused_after(window, qtbot, tiny("vae"), 1)
    assert not window.pane.draw_bar.isVisible()


@pytest.mark.training_thread  # the mirror is patched in this process
def test_mnist_downloads_with_progress_then_trains(window, qtbot, served, monkeypatch, tmp_path):
    """Choosing MNIST downloads it once (from a local server here), with progress in the status bar."""
    from dataclasses import replace

    from genstudio import data
    from genstudio.config import default_experiment
    from genstudio.data.download import REMOTE_SETS

    server, md5, arrays = served
    monkeypatch.setitem(REMOTE_SETS, "mnist", replace(REMOTE_SETS["mnist"], mirrors=(server.url,), md5=md5))
    monkeypatch.setenv("GENSTUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_CACHE", {})
    messages, progress = [], []
    window.statusBar().messageChanged.connect(messages.append)
    window.pane.download_bar.valueChanged.connect(progress.append)
    exp = default_experiment("vae", "mnist", data_size=8)
    window.pane.panel.set_experiment(replace(exp, family=replace(exp.family, width=16)))
    assert "downloads once" in window.pane.panel.data.currentText() and window.pane.panel.image_size.isVisible()
    window.pane.reset(start=True)
    qtbot.waitUntil(lambda: window.run.info is not None and window.run.step > 5, timeout=TIMEOUT_MS)
    assert any(m.startswith("Downloading") for m in messages)
    assert progress and progress[-1] == window.pane.download_bar.maximum() > 0  # the bar reached its end
    assert not window.pane.download_bar.isVisible()
    assert window.run.info.dataset.x.shape == (50, 1, 8, 8) and len(window.run.info.dataset.held_out) == 20


def test_a_file_saved_on_a_gpu_opens_on_this_machine(window, qtbot, tmp_path, make_experiment):
    from dataclasses import replace

    from genstudio.engine import experiment_file as ef
    from genstudio.engine.device import available_devices
    from genstudio.engine.trainer import Cadence, Trainer

    if "cuda" in available_devices():
        pytest.skip("this machine has CUDA")
    exp = make_experiment("gan", "ring8")
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    list(trainer.run(steps=7))
    path = str(tmp_path / "from-gpu.genstudio")
    ef.save(path, ef.ExperimentFile(replace(exp, device="cuda"), trainer.state()))
    assert open_experiment(window, qtbot, path)
    qtbot.waitUntil(lambda: window.run.state == "paused" and window.run.info is not None, timeout=TIMEOUT_MS)
    assert window.run.step == 7 and window.pane.panel.experiment().device == "auto"
    assert "cuda is not available" in window.statusBar().currentMessage()


def test_save_as_asks_before_replacing_the_name_it_completed(window, qtbot, tmp_path, monkeypatch):
    """The dialog asked about "run"; the file written is "run.genstudio", which exists: ask first."""
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    existing = tmp_path / "run.genstudio"
    existing.write_bytes(b"a teacher's experiment")
    files = window.pane.files
    saved, asked = [], []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "run"), ""))
    monkeypatch.setattr(files, "save_to", lambda path, then=None: saved.append(path))
    for answer in (QMessageBox.Cancel, QMessageBox.Yes):
        monkeypatch.setattr(QMessageBox, "question", lambda *a, answer=answer, **k: asked.append(a[2]) or answer)
        files.save_experiment_as()
    assert saved == [str(existing)] and len(asked) == 2 and "run.genstudio already exists" in asked[0]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "new"), ""))
    files.save_experiment_as()                          # nothing there: no question
    assert saved[-1] == str(tmp_path / "new.genstudio") and len(asked) == 2


def test_a_path_from_outside_opens_as_what_it_is_and_is_remembered(window, qtbot, tmp_path):
    """`genstudio FILE`, Open Recent and a drop all come through open_path: an experiment opens paused
    at its step, a lesson starts, data shows its preview; each goes on the recent list and the
    dialogs start in its folder."""
    from genstudio.lessons import builtin_lessons

    at = _paused_after(window, qtbot, tiny("gan"), 5)
    path = str(tmp_path / "run.genstudio")
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS):
        window.pane.files.save_to(path)
    window.pane.reset()
    qtbot.waitUntil(lambda: window.run.step == 0, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.pane.files.job_done, timeout=TIMEOUT_MS):
        window.open_path(path)
    qtbot.waitUntil(lambda: window.run.state == "paused" and window.run.step == at, timeout=TIMEOUT_MS)
    npy = _digits_npy(tmp_path)
    window.open_path(str(npy))
    qtbot.waitUntil(lambda: window.pane.files.preview is not None, timeout=TIMEOUT_MS)
    window.pane.files.preview.reject()
    assert window.recent.paths()[:2] == [str(npy), path]
    assert window.recent.folder() == str(tmp_path) and window.pane.files.folder() == str(tmp_path)
    lesson = tmp_path / "mine.json"
    lesson.write_text(open(builtin_lessons()[0].path, encoding="utf-8").read(), encoding="utf-8")
    window.open_path(str(lesson))
    assert window.lessons.isVisible() and window.recent.paths()[0] == str(lesson)
    window.lessons.end()
    window.open_path(str(tmp_path / "gone.genstudio"))
    assert window.last_problem.endswith("gone.genstudio: no such file or folder")
    _close_problem(window)
    from PySide6.QtWidgets import QMenu
    menu = QMenu()
    window.recent.fill_menu(menu, window.open_path)
    assert [a.text() for a in menu.actions()][:3] == ["mine.json", npy.name, "run.genstudio"]
