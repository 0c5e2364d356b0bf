"""`genstudio gui --self-test [--screenshots DIR]`: drive the real window through every family.

For each family: reset on its default data, train a few seconds, pause, step, scrub the timeline,
save FAMILY-samples.png, FAMILY-curves.png and FAMILY-window.png, and check that curves and
samples received data; then save the last run as an experiment file and open it again. Then the
VAE latent lab on digits with a 2-d latent: click the map, drag a slider, walk an interpolation,
and save vae-lab-map.png, vae-lab-sliders.png, vae-lab-interpolation.png and vae-lab-kl.png.
Then the GAN's view: on ring8 mid-training with every layer on (gan-plane.png), and on digits
with a sample clicked (gan-images.png). Then the diffusion view: a DDPM trajectory on digits
scrubbed to mid-denoise (diffusion-digits.png), and on ring8 the particles' DDIM paths, the
denoising field and the loss per timestep range (diffusion-trajectories.png, diffusion-forward.png,
diffusion-schedule.png); a class-conditional model on digits, each family's samples a row per class
(conditional-FAMILY.png), the guidance slider at five scales (guidance-diffusion.png), and flow
matching's paths on ring8 (flow-trajectories.png). Then the transformer's view: a half-written digit with its next-pixel
bars and a completion (ar-digits.png, ar-complete.png), and names being written (ar-names.png), with
what each writes looks at (ar-attention-pixels.png, ar-attention-text.png) and the names' letter
embeddings (ar-embeddings.png).
Then every built-in lesson walked through, the first one trained to its first wait
(lesson-gan-samples.png, lesson-gan-view.png), and presenter mode (presenter-*.png). Last, a GAN
forked from its past with another learning rate, both futures side by side (fork.png), and a GAN
beside itself with a 3x learning rate, the shared timeline scrubbed back, and the runs table
(compare-live.png, compare-scrubbed.png, compare-runs-table.png). Then a second window under a dark
palette at 1366x768: each family's view (dark-FAMILY.png).
Exit code 0 when every check passed: the packaged app's smoke test.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ..config import FAMILIES, default_experiment, lesson_experiment
from .threads import SlotErrors

TRAIN_SECONDS = 3.0


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        wait(20)
    return True


class SelfTest:
    def __init__(self, window, screenshots: str | None):
        self.window, self.dir = window, screenshots
        self.exit_code = 1
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.failures.append(what)
            print(f"self-test: FAILED: {what}", file=sys.stderr)
        return ok

    def save(self, widget, name: str) -> None:
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)
            path = os.path.join(self.dir, name)
            self.check(widget.grab().save(path), f"saving {path}")

    def start(self) -> None:
        asking = self.window.unsaved_work.asking
        with SlotErrors() as slots:
            try:
                self.run_all()
            except Exception as exc:  # report, never hang
                self.check(False, f"{type(exc).__name__}: {exc}")
            self.window.unsaved_work.set_asking(asking)
            self.window.discard_on_close = True
            self.window.close()
        for error in slots.errors:   # Qt only prints these: here they fail the test
            self.check(False, f"an exception in a Qt slot or callback: {error}")
        self.exit_code = 0 if not self.failures else 1
        print("self-test: " + ("passed" if not self.failures else f"{len(self.failures)} check(s) failed"))
        QApplication.instance().quit()

    def run_all(self) -> None:
        win = self.window
        for family in FAMILIES:
            exp = default_experiment(family)
            win.pane.panel.set_experiment(exp)
            win.pane.reset(start=True)
            if not self.check(wait_until(lambda: win.run.state == "training", 120), f"{family}: training started"):
                continue
            wait(int(TRAIN_SECONDS * 1000))
            self.check(wait_until(lambda: bool(win.run.history.held_out), 60), f"{family}: a held-out point came")
            win.pane.toggle_training()
            self.check(win.run.state == "paused", f"{family}: paused")
            before = win.run.step
            win.pane.single_step("all")
            self.check(wait_until(lambda: win.run.step > before, 30), f"{family}: one step while paused")
            self.check(len(win.pane.curves.history.data) > 0, f"{family}: curves received losses")
            self.check(len(win.pane.timeline.snapshots) >= 2, f"{family}: timeline has snapshots")
            win.pane.curves.redraw()
            self.check("gap" in win.pane.curves.gap_label.text(), f"{family}: the held-out gap is labelled")
            n = len(win.pane.timeline.snapshots)
            win.pane.timeline.slider.setValue(n // 2)  # scrub back...
            self.check(not win.pane.timeline.live, f"{family}: timeline scrubbed")
            win.pane.timeline.slider.setValue(n - 1)   # ...and return to live
            win.pane.tabs.setCurrentIndex(0)
            wait(100)
            self.save(win.pane.samples, f"{family}-samples.png")
            self.save(win.pane.curves, f"{family}-curves.png")
            self.save(win, f"{family}-window.png")
            print(f"self-test: {family} on {exp.data}: {win.run.step} steps, {n} snapshots")
        self.experiment_file_round_trip()
        sizes = win.pane.right.sizes()
        win.pane.right.setSizes([sum(sizes) - 180, 180])  # room for the family views in the pictures
        try:
            self.vae_lab()
            self.gan_view()
            self.diffusion_view()
            self.guidance_and_flow()
            self.ar_view()
        finally:
            win.pane.right.setSizes(sizes)
        self.lessons_and_presenter()
        wait(200)                # presenter mode has put the window's size back
        size = win.size()
        win.resize(1600, 1000)   # two runs want a full-HD screen's room
        try:
            self.fork()
            self.compare()
        finally:
            win.resize(size)
        self.dark_views()

    def dark_views(self) -> None:
        """A second window under a dark palette, at a school laptop's 1366x768: each family's view after
        a few seconds of training (dark-FAMILY.png), its plots on a dark ground."""
        import tempfile

        from PySide6.QtCore import QSettings

        from .main_window import MainWindow
        from .theme import dark_palette, plot_background

        app = QApplication.instance()
        light = app.palette()
        app.setPalette(dark_palette())
        folder = tempfile.mkdtemp(prefix="genstudio-self-test-")
        dark = MainWindow(QSettings(os.path.join(folder, "settings.ini"), QSettings.IniFormat))
        try:
            dark.unsaved_work.set_asking(False)
            dark.resize(1366, 768)
            dark.show()
            for family in FAMILIES:
                dark.pane.panel.set_experiment(default_experiment(family))
                dark.pane.reset(start=True)
                if self.check(wait_until(lambda: dark.run.state == "training", 120), f"dark {family}: training"):
                    wait(int(TRAIN_SECONDS * 1000))
                dark.pane.tabs.setCurrentWidget(dark.pane.family_tab)
                wait(500)
                self.save(dark, f"dark-{family}.png")
            self.check(plot_background().lightness() < 64 and
                       dark.pane.curves.plot.backgroundBrush().color().lightness() < 64, "dark: plots on a dark ground")
        finally:
            dark.discard_on_close = True
            dark.close()
            app.setPalette(light)
        print("self-test: dark views saved")

    def fork(self) -> None:
        """A GAN on ring8 forked from a marked point of its past with a 3x learning rate: both futures
        trained side by side in the window (fork.png)."""
        win = self.window
        exp = default_experiment("gan", "ring8")
        win.pane.panel.set_experiment(exp)
        win.pane.reset(start=True)
        if not self.check(wait_until(lambda: win.run.step > 300 and len(win.pane.timeline.forkable) >= 3, 120),
                          "fork: marked points on the timeline"):
            return
        win.pane.toggle_training()
        marked = [i for i, s in enumerate(win.pane.timeline.snapshots) if s.step in win.pane.timeline.forkable]
        win.pane.timeline.slider.setValue(marked[len(marked) // 2])
        snap = win.pane.timeline.shown()
        win.fork_from(snap, lr=3 * exp.family.lr)
        if not self.check(wait_until(lambda: win.comparison is not None and win.comparison.guest.run.state == "paused",
                                     120), f"fork: a run forked at step {snap.step}"):
            return
        fork = win.comparison.guest
        self.check(fork.run.step == snap.step, f"fork: starts at step {snap.step} (at {fork.run.step})")
        self.train_both(int(2 * TRAIN_SECONDS * 1000))
        self.check(fork.run.step > snap.step and win.run.step > snap.step, "fork: both futures trained")
        self.save(win, "fork.png")
        print(f"self-test: forked at step {snap.step}: original at {win.run.step}, fork at {fork.run.step}")
        win.end_comparison()

    def train_both(self, ms: int) -> None:
        comparison = self.window.comparison
        comparison.toggle_both()
        wait(ms)
        comparison.toggle_both()
        wait(300)
        self.window.redraw()

    def compare(self) -> None:
        """A GAN on ring8 beside the same GAN (same seed) with a 3x learning rate, trained together;
        the shared timeline scrubbed back; the runs table (compare-*.png)."""
        win = self.window
        exp = default_experiment("gan", "ring8")
        win.pane.panel.set_experiment(exp)
        win.pane.reset()
        other = win.run_beside()
        other.panel.set_knob("lr", 3 * exp.family.lr)
        other.reset()
        win.comparison.headers[1].settings.setChecked(False)
        if not self.check(wait_until(lambda: win.run.state == other.run.state == "paused", 120),
                          "compare: two runs built"):
            return
        self.train_both(int(3 * TRAIN_SECONDS * 1000))
        self.check(win.run.step > 100 and other.run.step > 100,
                   f"compare: both trained ({win.run.step}, {other.run.step} steps)")
        self.save(win, "compare-live.png")
        shared = win.comparison.timeline
        shared.slider.setValue(shared.slider.maximum() // 3)
        wait(200)
        steps = [snap.step for snap in win.comparison.shown() if snap is not None]
        self.check(len(steps) == 2 and max(steps) <= shared.position(),
                   f"compare: the shared timeline shows both runs at step {shared.position():.0f} ({steps})")
        self.save(win, "compare-scrubbed.png")
        table = win.show_runs_table()
        wait(300)
        self.check(table.table.rowCount() >= 2, "compare: the runs table lists the runs")
        self.save(table, "compare-runs-table.png")
        table.close()
        win.end_comparison()
        print(f"self-test: compared two learning rates: {win.run.step} and {other.run.step} steps")

    def lessons_and_presenter(self) -> None:
        """Every built-in lesson walked through (each step's preset, view and page set up); the first
        one's first wait reached by training (lesson-*.png), then presenter mode (presenter-*.png)."""
        from ..lessons import builtin_lessons
        win, panel = self.window, self.window.lessons
        lessons = builtin_lessons()
        for lesson in lessons:
            if self.check(panel.open_file(lesson.path), f"lesson {lesson.title!r} opened"):
                for index in range(len(lesson.steps)):
                    panel.go(index)
                    self.check(panel.counter.text().startswith(f"Step {index + 1} of"),
                               f"{lesson.title}: step {index + 1}")
        first = lessons[0]
        panel.open_file(first.path)
        win.pane.toggle_training()
        began = time.perf_counter()
        reached = wait_until(lambda: panel.next_button.isEnabled(), 60)
        self.check(reached, f"lesson {first.title!r}: step 1's wait reached within 60 s")
        print(f"self-test: lesson {first.title!r}: step 1 ({first.steps[0].wait_text()}) reached in "
              f"{time.perf_counter() - began:.1f} s")
        self.save(win, "lesson-gan-samples.png")
        panel.go(1)
        wait(int(TRAIN_SECONDS * 1000))
        self.save(win, "lesson-gan-view.png")
        win.presenter.set_active(True)
        wait(500)
        self.check(win.isFullScreen() and not win.menuBar().isVisible(), "presenter mode: full screen, menus hidden")
        self.save(win, "presenter-gan-view.png")
        panel.end()
        win.pane.tabs.setCurrentIndex(0)
        wait(300)
        self.save(win, "presenter-samples.png")
        win.presenter.set_active(False)
        self.check(not win.isFullScreen() and win.menuBar().isVisible(), "presenter mode left")

    def experiment_file_round_trip(self) -> None:
        """Reset with unsaved training asks first (Cancel keeps the run); save the paused run as an
        experiment file, open it again: the same step, ready to train."""
        import tempfile
        win = self.window
        wait(500)   # the paused run's last losses have come in
        step = win.run.step
        win.pane.reset_asking()
        box = win.unsaved_work.box
        if self.check(box is not None and box.isVisible(), "Reset with unsaved training asks first"):
            wait(300)
            self.save(box, "unsaved-question.png")
            box.button(QMessageBox.Cancel).click()
            closed = wait_until(lambda: win.unsaved_work.box is None, 10)
            self.check(closed and win.run.step == step,
                       f"Cancel keeps the run (question closed: {closed}, step {step} -> {win.run.step}, "
                       f"{win.run.state})")
        win.unsaved_work.set_asking(False)   # from here on the script resets and opens lessons freely
        with tempfile.TemporaryDirectory(prefix="genstudio-self-test-") as folder:
            path = os.path.join(folder, "self-test.genstudio")
            win.pane.files.save_to(path)
            if not self.check(wait_until(lambda: not win.run.unsaved, 60), "experiment file written"):
                return
            from ..engine import experiment_file
            saved = experiment_file.load(path)
            outcome = []   # None once opened, else the problem
            win.pane.files.open_experiment(path, opened=lambda: outcome.append(None), failed=outcome.append)
            self.check(wait_until(lambda: outcome, 60) and outcome[0] is None
                       and wait_until(lambda: win.run.state == "paused", 60) and saved.state.step >= step
                       and win.run.step == saved.state.step and win.run.experiment == saved.experiment,
                       f"experiment file saved at step {saved.state.step} and reopened "
                       f"(window at step {win.run.step}, {win.run.state}: {outcome})")
        print(f"self-test: experiment file saved and reopened at step {saved.state.step}")

    def start_view(self, exp):
        """Train `exp` with its family's view on screen (its first page); the view."""
        win = self.window
        win.pane.panel.set_experiment(exp)
        win.pane.reset(start=True)
        win.pane.tabs.setCurrentWidget(win.pane.family_tab)
        view = win.pane.family_views[exp.model]
        view.pages.setCurrentIndex(0)
        return view

    def gan_view(self) -> None:
        """The GAN's view on ring8 (the plane, every layer on) and on digits (a sample's neighbours)."""
        win = self.window
        for data, control in (("ring8", "plane"), ("digits", "histogram")):
            view = self.start_view(default_experiment("gan", data))
            if not self.check(wait_until(lambda: view.shown_step.get(control) is not None, 120),
                              f"gan view on {data}: {control} answered"):
                continue
            wait(int(TRAIN_SECONDS * 1000))
            if data == "ring8":
                self.check(all(box.isChecked() for box in view.layers.values()) and view.plane_updates > 5
                           and not view.message.text(), "gan view: every layer on, the plane redrawn while training")
                self.save(win, "gan-plane.png")
            else:
                self.check(wait_until(lambda: view.samples is not None, 30), "gan view: samples shown")
                view.pick(2)
                self.check(wait_until(lambda: view.near_shown is not None, 30), "gan view: nearest images shown")
                wait(300)
                self.save(win, "gan-images.png")
            print(f"self-test: gan view on {data} at step {win.run.step}")

    def diffusion_view(self) -> None:
        """The diffusion view on digits (a DDPM trajectory scrubbed to mid-denoise) and on ring8 (the
        particles' paths of a DDIM trajectory, and the forward page with the denoising field)."""
        win = self.window
        for name in ("digits", "ring8"):
            view = self.start_view(lesson_experiment("diffusion", name))
            if not self.check(wait_until(lambda: view.shown_step.get("denoise") is not None, 120),
                              f"diffusion view on {name}: a first trajectory"):
                continue
            wait(int(2 * TRAIN_SECONDS * 1000))
            view.sample()
            finished = wait_until(lambda: view.total > 0 and len(view.frames) == view.total
                                  and not view.message.text(), 120)
            self.check(finished and view.table.rowCount() >= 2,
                       f"diffusion view on {name}: trajectory kept, table filled")
            if name == "digits":
                view.scrub.setValue(int(view.total * 0.8))  # most of the noise gone, digits appearing
                wait(200)
                self.save(win, "diffusion-digits.png")
            else:
                view.scrub.setValue(view.total - 1)
                wait(200)
                self.save(win, "diffusion-trajectories.png")
                view.pages.setCurrentIndex(1)
                view.t_slider.setValue(200)
                self.check(wait_until(lambda: view.field_answer is not None and view.field_answer["t"] == 200, 30),
                           "diffusion view: the denoising field at the chosen t")
                wait(200)
                self.save(win, "diffusion-forward.png")
                view.pages.setCurrentIndex(2)
                self.check(wait_until(lambda: view.shown_step.get("loss") is not None, 30),
                           "diffusion view: loss per timestep range shown")
                wait(200)
                self.save(win, "diffusion-schedule.png")
            print(f"self-test: diffusion view on {name} at step {win.run.step}")

    def guidance_and_flow(self) -> None:
        """A class-conditional diffusion model on digits: its samples, a row per class
        (conditional-diffusion.png), and the guidance slider at five scales, each a point of the accuracy
        and FD plots (guidance-diffusion.png). The other families' conditional samples on digits
        (conditional-FAMILY.png). Then flow matching on ring8: the Euler particles' paths
        (flow-trajectories.png)."""
        from .views.diffusion import GUIDANCE_STEPS

        win = self.window
        view = self.start_view(lesson_experiment("diffusion", "digits"))
        if self.check(wait_until(lambda: view.shown_step.get("denoise") is not None, 120) and view.classes,
                      "guidance: a conditional model's first trajectory"):
            scales = (0.0, 1.0, 2.0, 4.0, 6.0)
            for scale in scales:
                view.guidance.setValue(round(scale * GUIDANCE_STEPS))
                wait_until(lambda: scale in view.guidance_tried and len(view.frames) == view.total, 60)
            self.check(set(scales) <= set(view.guidance_tried), f"guidance: {len(scales)} scales measured")
            view.scrub.setValue(view.total - 1)
            wait(200)
            self.save(win, "guidance-diffusion.png")
            wait_until(lambda: win.run.step >= 400, 60)   # digits, not noise
            self.save(win.pane.samples, "conditional-diffusion.png")
            tried = sorted(view.guidance_tried.items())
            print("self-test: guidance " + ", ".join(
                f"{g}: accuracy {q['class_accuracy']:.2f} FD {q['fd']:.1f}" for g, q in tried))
        for family in ("gan", "vae", "ar"):   # every family is class-conditional on digits: a row per class
            view = self.start_view(default_experiment(family, "digits"))
            shown = wait_until(lambda: win.run.snapshots and win.run.snapshots[-1].labels is not None
                               and win.run.step >= 300, 120)   # (the transformer: 5-10 steps a second here)
            self.check(shown and len(win.run.snapshots[-1].samples) == 80,
                       f"{family} on digits: a conditional model's samples, a row of 8 per class")
            self.save(win.pane.samples, f"conditional-{family}.png")
        view = self.start_view(lesson_experiment("diffusion", "ring8-flow"))
        if self.check(wait_until(lambda: view.shown_step.get("denoise") is not None, 120),
                      "flow matching: a first trajectory"):
            wait(int(2 * TRAIN_SECONDS * 1000))
            view.sample()
            finished = wait_until(lambda: view.total > 0 and len(view.frames) == view.total
                                  and view.table.rowCount() >= 2, 60)
            self.check(finished and "paths" in view.table.item(view.table.rowCount() - 1, 3).text(),
                       "flow matching: the Euler trajectory and its straightness")
            view.scrub.setValue(view.total - 1)
            wait(200)
            self.save(win, "flow-trajectories.png")

    def ar_view(self) -> None:
        """The transformer's view on digits (a half-written digit with its next-pixel bars, and a
        completion) and on names (lines written with their next-character bars)."""
        win = self.window
        for name in ("digits", "names"):
            view = self.start_view(lesson_experiment("ar", name))
            if not self.check(wait_until(lambda: view.final is not None, 120), f"ar view on {name}: a first batch"):
                continue
            wait(int(2 * TRAIN_SECONDS * 1000))
            view.generate()
            self.check(wait_until(lambda: view.final is not None and not view.message.text(), 60),
                       f"ar view on {name}: a batch written")
            view.play_button.setChecked(False)
            view.show_position(view.length // 2 if name == "digits" else 4)
            wait(200)
            self.save(win, f"ar-{name}.png")
            if name == "digits":
                view.pages.setCurrentIndex(1)
                self.check(wait_until(lambda: view.completion is not None, 60), "ar view: a digit completed")
                wait(200)
                self.save(win, "ar-complete.png")
            self.ar_attention(view, "pixels" if name == "digits" else "text")
            if name == "names":
                view.pages.setCurrentWidget(view.embeddings_page)
                self.check(wait_until(lambda: view.embeddings_page.vectors is not None, 60),
                           "ar view: the embeddings mapped")
                view.embeddings_page.pick(win.run.info.dataset.alphabet.index("a"))
                wait(200)
                self.save(win, "ar-embeddings.png")
            print(f"self-test: ar view on {name} at step {win.run.step}")

    def ar_attention(self, view, kind: str) -> None:
        """The attention page on the written batch's first sample, scrubbed, one head (ar-attention-KIND.png)."""
        page = view.attention_page
        view.pages.setCurrentWidget(page)
        if not self.check(wait_until(lambda: page.maps is not None and len(page.probes) > 0, 60),
                          f"ar view: attention of a {kind} sample and the heads on the probe"):
            return
        page.scrub.setValue(page.scrub.maximum() // 2)
        page.layer.setCurrentIndex(page.layer.count() - 1)
        page.head.setCurrentIndex(1)
        wait(200)
        self.save(self.window, f"ar-attention-{kind}.png")

    def vae_lab(self) -> None:
        """The latent lab driven as a student would, on a VAE with a 2-d latent (a readable map)."""
        win = self.window
        exp = default_experiment("vae", "digits")
        lab = self.start_view(replace(exp, family=replace(exp.family, latent_dim=2)))
        if not self.check(wait_until(lambda: lab.map is not None and win.run.step > 0, 120), "vae lab: the map came"):
            return
        wait(int(2 * TRAIN_SECONDS * 1000))  # let the map take shape while training goes on

        def answered(control, act):
            before = lab.shown_step.get(control)
            seen = []
            lab.answered.connect(seen.append)
            act()
            ok = wait_until(lambda: control in seen, 30)
            lab.answered.disconnect(seen.append)
            return self.check(ok and not lab.message.text(), f"vae lab: {control} answered (was step {before})")

        answered("code", lambda: lab.click_map(0.8, -0.6))
        wait(300)
        self.save(win, "vae-lab-map.png")
        lab.pages.setCurrentIndex(1)
        answered("code", lambda: lab.set_slider(0, -1.5))
        self.save(win, "vae-lab-sliders.png")
        lab.pages.setCurrentIndex(2)
        answered("interpolation", lambda: lab.end_b.setValue(5))
        answered("t", lambda: lab.t_slider.setValue(60))
        self.save(win, "vae-lab-interpolation.png")
        lab.pages.setCurrentIndex(3)
        wait(300)
        self.save(win, "vae-lab-kl.png")
        print(f"self-test: vae latent lab on digits at step {max(lab.shown_step.values())}")
