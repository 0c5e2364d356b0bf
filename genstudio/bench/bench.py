"""`genstudio bench`: speed and quality measured side by side, in one run, printed as one table.

    genstudio bench                      # everything (about 50 minutes on 2 CPU cores)
    genstudio bench --quick              # a few minutes: shorter measurements, a 60 s memory run
    genstudio bench --only engine --only startup --json out.json
    genstudio bench --only images --images my-images-idx3-ubyte.gz --images-name "my handwriting"

Every row is measured now, in this run. Speed is reported as ratios of two things measured in the
same process, alternating, median of the repeats, because the machines are shared and noisy:

  engine          steps/s of the engine / steps/s of the loop a user would write (reference_loops.py:
                  DataLoader over a TensorDataset, .item() every step), same unconditional model, optimiser,
                  batch size and thread count; each family on digits and on ring8 (and on the GPU too,
                  when there is one)
  overhead        steps/s inside the app (offscreen) / the same config headless
  responsiveness  lateness of a 10 ms GUI timer while the app trains each family at full speed
  startup         process start to first window shown, and to the first trained sample
  interaction     p95 latency of each interactive control while the app trains (CONTROLS; the timeline
                  scrub: slider moved to the sample view repainted), goal one frame at 30 Hz
  quality         training seconds until the ring8 / grid25 targets are met (GAN and diffusion), the
                  Frechet distance on digits after a fixed time per family, and the transformer's
                  held-out nats/char on the built-in names after 300 s (--quick: 30 s) beside the
                  bigram baseline
  conditional     class-conditional diffusion on 28x28 digits for 300 s (--quick: 30 s): class accuracy
                  and FD at six guidance scales; DDPM against flow matching at equal training time
                  on ring8 and grid25 (60 s; --quick: 15 s) and the 28x28 digits: quality at 5, 10,
                  20 and 50 sampling steps, and on 2D data how much longer the paths are than
                  straight lines
  images          each family trained on 28x28 grey digits (genstudio/bench/digits28.py, imported as IDX
                  files), or on a user's image set (--images PATH) and its first 1,000 images, for
                  300 s (--quick: 30 s) on one thread: steps/s, FD and classes covered (from the best
                  held-out step's weights), the share of wall time snapshots and evaluations took and
                  the held-out curve's share, a 64-image snapshot's and the final evaluation's
                  seconds; and the VAE beside the pytorch/examples MNIST VAE, the same data, 120 s
                  (--quick: 20 s) and 300 s each
  memory          peak RSS of an app run (10 minutes; --quick: 60 s) and its growth in the last half
  long-use        only when asked for (--only long-use): RSS at the start and end of 30 minutes of
                  use (--quick: 5) with 20 forks and 20 data changes (long_use.py)

--json FILE writes the rows as a JSON list of {name, value, unit, goal, meets}; meets is null where
no goal applies. A row that misses its goal says MISSES GOAL.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace

import genstudio

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SECTIONS = ("engine", "overhead", "responsiveness", "startup", "interaction", "quality", "conditional", "images",
            "memory", "long-use")
ON_REQUEST = ("long-use",)   # not part of a plain `genstudio bench`
APP_SECTIONS = ("overhead", "responsiveness", "interaction")   # measured in one window, one pass
SMALL_GOAL, LARGE_GOAL = ">= 1.5", ">= 1.0"                      # MLPs vs compute-bound conv/transformer
TIMER_MS = 10


@dataclass(frozen=True)
class Budget:
    engine_s: float          # seconds per engine / reference measurement
    engine_repeats: int
    app_s: float             # seconds per app / headless measurement
    app_repeats: int
    warmup_steps: int        # steps before a rate is measured (the app's first steps are not counted)
    startup_runs: int
    scrubs: int              # timeline moves per family
    target_scale: float      # times the 60 / 120 s training budget of the 2D quality targets
    fd_s: float              # training seconds before the digits FD
    memory_s: float
    images_s: float          # training seconds per family on 28x28 digits
    tutorial_s: float        # training seconds of each VAE in the tutorial comparison
    text_s: float            # training seconds of the transformer on the built-in names
    long_use_s: float        # the long-use run

    def scaled(self, k: float) -> "Budget":
        """Every duration times k (at least one repeat, a few steps): what the test runs."""
        if k == 1:
            return self
        return replace(self, engine_s=self.engine_s * k, engine_repeats=1 if k < 1 else self.engine_repeats,
                       app_s=max(0.5, self.app_s * k), app_repeats=1 if k < 1 else self.app_repeats,
                       warmup_steps=max(3, int(self.warmup_steps * k)), startup_runs=1 if k < 1 else self.startup_runs,
                       scrubs=max(5, int(self.scrubs * k)), target_scale=self.target_scale * k,
                       fd_s=self.fd_s * k, memory_s=max(2.0, self.memory_s * k),
                       images_s=max(2.0, self.images_s * k), tutorial_s=max(1.0, self.tutorial_s * k),
                       text_s=max(1.0, self.text_s * k), long_use_s=max(20.0, self.long_use_s * k))


FULL = Budget(engine_s=3.0, engine_repeats=5, app_s=5.0, app_repeats=3, warmup_steps=50, startup_runs=3,
              scrubs=60, target_scale=1.0, fd_s=60.0, memory_s=600.0, images_s=300.0, tutorial_s=120.0,
              text_s=300.0, long_use_s=1800.0)
QUICK = Budget(engine_s=1.0, engine_repeats=3, app_s=2.0, app_repeats=2, warmup_steps=30, startup_runs=2,
               scrubs=30, target_scale=1.0, fd_s=15.0, memory_s=60.0, images_s=30.0, tutorial_s=20.0,
               text_s=30.0, long_use_s=300.0)


@dataclass
class Row:
    name: str
    value: float
    unit: str
    goal: str | None = None
    meets: bool | None = field(default=None)

    def __post_init__(self):
        self.value = float(self.value)
        if self.meets is None and self.goal is not None:
            op, bound = self.goal.split()
            self.meets = self.value >= float(bound) if op == ">=" else self.value <= float(bound)

    def line(self) -> str:
        verdict = "" if self.meets is None else ("ok" if self.meets else "MISSES GOAL")
        goal = f"goal {self.goal}" if self.goal else ""
        return f"{self.name:<62} {_fmt(self.value):>9} {self.unit:<8} {goal:<12} {verdict}"


def _fmt(v: float) -> str:
    if v != v or math.isinf(v):
        return str(v)
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))] if s else float("nan")


# 1. engine vs the reference loop ----------------------------------------------------------------

ENGINE_CASES = [("gan", "ring8"), ("vae", "ring8"), ("diffusion", "ring8"), ("ar", "ring8"),
                ("vae", "digits"), ("gan", "digits"), ("diffusion", "digits"), ("ar", "digits")]


def engine_goal(family: str, data: str) -> str:
    """>= 1.5 for the small MLP models (every family on 2D, the VAE on digits); the conv GAN, U-Net
    and transformer on digits are compute-bound: the engine must simply not be slower."""
    return SMALL_GOAL if data != "digits" or family == "vae" else LARGE_GOAL


def _consume(events) -> None:
    for _ in events:
        pass


def engine_vs_reference(family: str, data: str, device: str, budget: Budget) -> tuple[float, float, float]:
    """(median engine/reference ratio, median engine steps/s, median reference steps/s)."""
    import torch

    from genstudio.bench.reference_loops import LOOPS
    from genstudio.config import default_experiment
    from genstudio.engine.trainer import Cadence, Trainer
    from genstudio.models import build_model

    exp = default_experiment(family, data, device=device)   # unconditional, as the reference loops are
    exp = replace(exp, family=replace(exp.family, condition="none"))
    trainer = Trainer(exp, Cadence(snapshot_s=None, eval_s=None, evaluate_at_end=False))
    torch.manual_seed(exp.seed)
    model = build_model(exp, trainer.dataset).to(trainer.device)
    model.configure_optimizers()
    model.train()
    x = model.encode_data(trainer.dataset)  # on the CPU: a tutorial's DataLoader moves each batch
    loop = LOOPS[family]

    def engine_rate(seconds):
        start, began = trainer.step, time.perf_counter()
        _consume(trainer.run(seconds=seconds))
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        return (trainer.step - start) / (time.perf_counter() - began)

    def reference_rate(seconds):
        steps, took = loop(model, x, exp.family.batch_size, seconds)
        return steps / took

    _consume(trainer.run(steps=budget.warmup_steps))
    loop(model, x, exp.family.batch_size, min(0.5, budget.engine_s))
    ratios, engine, reference = [], [], []
    for i in range(budget.engine_repeats):
        if i % 2:  # alternate which goes first
            r = reference_rate(budget.engine_s)
            e = engine_rate(budget.engine_s)
        else:
            e = engine_rate(budget.engine_s)
            r = reference_rate(budget.engine_s)
        ratios.append(e / r)
        engine.append(e)
        reference.append(r)
    return statistics.median(ratios), statistics.median(engine), statistics.median(reference)


def section_engine(budget: Budget):
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for family, data in ENGINE_CASES:
            ratio, e, r = engine_vs_reference(family, data, device, budget)
            where = f"{family}/{data}" + ("" if device == "cpu" else f" on {device}")
            goal = engine_goal(family, data) if device == "cpu" else None
            yield Row(f"engine / reference loop, {where}", ratio, "x", goal)
            yield Row(f"  engine steps/s, {where}", e, "steps/s")
            yield Row(f"  reference loop steps/s, {where}", r, "steps/s")


# 2, 3, 5. the app: overhead, responsiveness, interaction ------------------------------------------

def headless_rate(exp, seconds: float, warmup_steps: int) -> float:
    from genstudio.engine.trainer import Cadence, Trainer

    # the app's cadence (snapshots twice a second, metrics every 10 s) without the app
    trainer = Trainer(exp, Cadence(snapshot_s=0.5, eval_s=10.0, evaluate_at_end=False))
    _consume(trainer.run(steps=warmup_steps))
    start_step, start_s = trainer.step, trainer.seconds
    _consume(trainer.run(seconds=seconds))
    return (trainer.step - start_step) / (trainer.seconds - start_s)


class LatenessProbe:
    """A 10 ms precise GUI timer; records how late each tick comes (ms)."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer

        self.lateness: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0

    def _tick(self):
        now = time.perf_counter()
        self.lateness.append(max(0.0, (now - self.last) * 1000 - TIMER_MS))
        self.last = now

    def __enter__(self):
        self.last = time.perf_counter()
        self.timer.start(TIMER_MS)
        return self

    def __exit__(self, *exc):
        self.timer.stop()


def rates_together(window, panes, exp, seconds: float, warmup_steps: int,
                   activity=None) -> tuple[list[float], list[float]]:
    """Steps/s of each run pane training `exp` at the same time (after warm-up), and the 10 ms timer's
    lateness meanwhile (with `activity`, a context manager given the window, going on during the
    measurement): one GUI process, one training process per run.

    Steps and training seconds come from the worker's loss messages, as the headless rate's come
    from the trainer (the window's own step counter also moves on snapshots)."""
    from genstudio.ui.self_test import wait, wait_until

    runs = []   # (pane, its slot, the (step, seconds) marks it received)
    for w in panes:
        w.panel.set_experiment(exp)
        w.reset(start=True)
        if activity is None:  # the plain app: samples and curves (a family view's rows put it on screen themselves)
            w.tabs.setCurrentIndex(0)
        marks: list[tuple[int, float]] = []

        def mark(points, into=marks):
            if len(points.steps):
                into.append((int(points.steps[-1]), float(points.seconds[-1])))

        w.losses_received.connect(mark)
        runs.append((w, mark, marks))
    wait_until(lambda: all(w.run.state == "training" and marks and marks[-1][0] >= warmup_steps
                           for w, _, marks in runs), 300)
    first = [len(marks) for _, _, marks in runs]
    with LatenessProbe() as probe, (activity(window) if activity else contextlib.nullcontext()):
        wait(int(seconds * 1000))
    rates = []
    for (w, mark, marks), n in zip(runs, first):
        w.losses_received.disconnect(mark)
        (s0, t0), (s1, t1) = marks[n - 1], marks[-1]
        rates.append((s1 - s0) / max(t1 - t0, 1e-9))
    return rates, probe.lateness


def app_rate(window, exp, seconds: float, warmup_steps: int, activity=None) -> tuple[float, list[float]]:
    """Steps/s of the app training `exp` alone, and the timer's lateness (rates_together)."""
    (rate,), lateness = rates_together(window, [window.pane], exp, seconds, warmup_steps, activity)
    return rate, lateness


def two_runs_rows(window, exp, budget: Budget):
    """Two runs side by side in one window (Runs -> New run beside this one) against one alone, same
    family and data."""
    where = f"{exp.model}/{exp.data}"
    other = window.run_beside()
    try:
        ratios, late, each = [], [], []
        for _ in range(budget.app_repeats):
            alone, _ = app_rate(window, exp, budget.app_s, budget.warmup_steps)
            window.pane.toggle_training()
            both, lateness = rates_together(window, [window.pane, other], exp, budget.app_s, budget.warmup_steps)
            window.pane.toggle_training()
            other.toggle_training()
            ratios.append(sum(both) / alone)
            late.extend(lateness)
            each.append(both)
        yield Row(f"two runs side by side: sum of steps/s / one run alone, {where}", statistics.median(ratios), "x",
                  ">= 0.9")
        yield Row(f"two runs side by side: the slower run's steps/s, {where}",
                  statistics.median(min(b) for b in each), "/s")
        yield Row(f"two runs side by side: 10 ms timer lateness p95, {where}", _percentile(late, 0.95), "ms", "<= 8")
        window.comparison.toggle_both()   # both train while the shared timeline is dragged
        scrubs = shared_scrub_latency(window, budget.scrubs)
        window.comparison.toggle_both()
        yield Row(f"two runs side by side: shared timeline scrub -> both samples p95, {where}",
                  _percentile(scrubs, 0.95), "ms", "<= 16")
    finally:
        window.end_comparison()


def app_vs_headless(window, exp, budget: Budget, activity=None, each=None, repeats: int | None = None):
    """(ratios, lateness): per repeat, the app's steps/s training `exp` (with `activity` going on) over
    the same config's headless steps/s, and the 10 ms timer's lateness throughout; each() after every
    repeat."""
    ratios, late = [], []
    for _ in range(budget.app_repeats if repeats is None else repeats):
        head = headless_rate(exp, budget.app_s, budget.warmup_steps)
        rate, lateness = app_rate(window, exp, budget.app_s, budget.warmup_steps, activity=activity)
        window.pane.toggle_training()
        ratios.append(rate / head)
        late.extend(lateness)
        if each is not None:
            each()
    return ratios, late


def _drag(slider, target, moves: int) -> list[float]:
    """`slider` moved to target(i), about 60 times a second: ms from each move to its repaint; live
    (the right end) afterwards."""
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.self_test import wait

    times = []
    for i in range(moves):
        began = time.perf_counter()
        slider.setValue(target(i))
        QApplication.processEvents()  # the repaint the move asked for
        times.append((time.perf_counter() - began) * 1000)
        wait(15)
    slider.setValue(slider.maximum())
    return times


def scrub_latency(window, moves: int) -> list[float]:
    """Timeline scrub while training: slider moved -> sample view updated and painted (ms each)."""
    from genstudio.ui.self_test import wait_until

    timeline = window.pane.timeline
    wait_until(lambda: len(timeline.snapshots) >= 2, 120)

    def target(i):  # back and forth over the last ones
        n = len(timeline.snapshots)
        return max(0, (n - 1) - (i % min(n, 20)) - 1 if n > 1 else 0)

    return _drag(timeline.slider, target, moves)


def best_jump_latency(window, moves: int) -> list[float]:
    """Timeline's Best while training: clicked (from the oldest snapshot) -> the best held-out step's
    samples shown and painted (ms each); [] for a run without a best step (a GAN)."""
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.self_test import wait, wait_until

    timeline = window.pane.timeline
    if not wait_until(lambda: timeline.best.isEnabled() and (timeline.best_index() or 0) > 0, 30):
        return []
    times = []
    for _ in range(moves):
        timeline.slider.setValue(0)
        QApplication.processEvents()
        began = time.perf_counter()
        timeline.best.click()
        QApplication.processEvents()
        times.append((time.perf_counter() - began) * 1000)
        wait(15)
    timeline.slider.setValue(timeline.slider.maximum())
    return times


def shared_scrub_latency(window, moves: int) -> list[float]:
    """Two runs training: the shared timeline moved -> both runs' samples updated and painted (ms each)."""
    from genstudio.ui.self_test import wait_until

    comparison = window.comparison
    wait_until(lambda: all(len(p.run.snapshots) >= 2 for p in comparison.panes()), 120)
    slider = comparison.timeline.slider
    return _drag(slider, lambda i: int(slider.maximum() * (0.8 + 0.01 * (i % 20))), moves)  # over the last fifth


def _vae_lab(window, page: int):
    """The running VAE's lab on screen at `page`, once its map has come; None for another family."""
    from genstudio.ui.self_test import wait_until
    from genstudio.ui.views.vae import VAELab

    lab = window.pane.run_view
    if not isinstance(lab, VAELab):
        return None
    window.pane.tabs.setCurrentWidget(window.pane.family_tab)
    lab.pages.setCurrentIndex(page)
    wait_until(lambda: lab.map is not None and lab.code is not None, 120)
    return lab


def answer_latency(lab, control: str, act, moves: int) -> list[float]:
    """act(i) moves a control; ms until the explorer's answer for `control` is on screen and painted."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.self_test import wait

    times = []
    for i in range(moves):
        loop = QEventLoop()
        done = lambda name: loop.quit() if name == control else None  # noqa: E731
        lab.answered.connect(done)
        QTimer.singleShot(2000, loop.quit)
        began = time.perf_counter()
        act(i)
        loop.exec()
        QApplication.processEvents()  # the repaint the answer asked for
        times.append((time.perf_counter() - began) * 1000)
        lab.answered.disconnect(done)
        wait(16)  # a drag moves about 60 times a second
    return times


def slider_latency(window, moves: int) -> list[float]:
    """VAE lab: a latent slider moved -> the decoded image repainted."""
    lab = _vae_lab(window, 1)
    if lab is None:
        return []
    return answer_latency(lab, "code", lambda i: lab.set_slider(0, 2.5 * math.sin(i / 3)), moves)


def map_click_latency(window, moves: int) -> list[float]:
    """VAE lab: a click on the latent map (inside the visible part, as a hand would) -> the decoded
    image repainted."""
    lab = _vae_lab(window, 0)
    if lab is None:
        return []

    def click(i):
        (x0, x1), (y0, y1) = lab.map_plot.getViewBox().viewRange()
        lab.click_map(x0 + (x1 - x0) * (0.5 + 0.4 * math.cos(i)), y0 + (y1 - y0) * (0.5 + 0.4 * math.sin(i / 2)))

    return answer_latency(lab, "code", click, moves)


def interpolation_latency(window, moves: int) -> list[float]:
    """VAE lab: a new end example -> the strip of 8 decodes repainted."""
    lab = _vae_lab(window, 2)
    if lab is None:
        return []
    n = lab.end_a.maximum() + 1
    return answer_latency(lab, "interpolation", lambda i: lab.end_a.setValue((lab.end_a.value() + 1) % n), moves)


@contextlib.contextmanager
def lab_slider_drag(window):
    """The VAE lab's sliders page on screen and a slider dragged back and forth at 60 Hz."""
    from PySide6.QtCore import QTimer

    lab = _vae_lab(window, 1)
    ticks = [0]

    def move():
        ticks[0] += 1
        lab.set_slider(0, 2.5 * math.sin(ticks[0] / 10))

    timer = QTimer()
    timer.timeout.connect(move)
    timer.start(16)
    try:
        yield
    finally:
        timer.stop()


def _gan_view(window, images: bool):
    """The running GAN's view on screen, once it has answered; None for another family or data kind."""
    from genstudio.ui.self_test import wait_until
    from genstudio.ui.views.gan import GANView

    view = window.pane.run_view
    if not isinstance(view, GANView) or not wait_until(lambda: window.run.info is not None, 120):
        return None
    if (window.run.info.dataset.kind == "image") != images:
        return None
    window.pane.tabs.setCurrentWidget(window.pane.family_tab)
    view.pages.setCurrentIndex(0)
    wait_until(lambda: view.shown_step.get("histogram" if images else "plane") is not None, 120)
    if images:
        wait_until(lambda: view.samples is not None, 120)
    return view


def nearest_latency(window, moves: int) -> list[float]:
    """GAN on images: a generated sample clicked -> its nearest training images shown."""
    view = _gan_view(window, images=True)
    if view is None:
        return []
    return answer_latency(view, "nearest", lambda i: view.pick(i % len(view.samples)), moves)


@contextlib.contextmanager
def gan_view_on_screen(window):
    """The GAN's plane on screen with every layer on; counts the plane's updates meanwhile."""
    view = _gan_view(window, images=False)
    for box in view.layers.values():
        box.setChecked(True)
    counted = view.plane_updates
    began = time.perf_counter()
    try:
        yield
    finally:
        window.gan_plane_hz = (view.plane_updates - counted) / (time.perf_counter() - began)


def gan_view_rows(window, exp, budget: Budget, wanted: set[str]):
    """The GAN's plane on screen, every layer on: training speed against headless, how often the
    heat map and the mesh are redrawn, and the 10 ms timer's lateness."""
    rates = []
    ratios, late = app_vs_headless(window, exp, budget, gan_view_on_screen,
                                   each=lambda: rates.append(window.gan_plane_hz))
    where = f"{exp.model}/{exp.data}, plane view on screen, every layer on"
    if "overhead" in wanted:
        yield Row(f"app / headless steps/s, {where}", statistics.median(ratios), "x", ">= 0.95")
    if "interaction" in wanted or "overhead" in wanted:
        yield Row(f"heat map + mesh updates per second, {where}", statistics.median(rates), "/s", ">= 10")
    if "responsiveness" in wanted:
        yield Row(f"10 ms timer lateness p95, {where}", _percentile(late, 0.95), "ms", "<= 8")


def _diffusion_view(window, page: int):
    """The running diffusion model's view on screen at `page`, once its first trajectory has arrived;
    None for another family."""
    from genstudio.ui.self_test import wait_until
    from genstudio.ui.views.diffusion import DiffusionView

    view = window.pane.run_view
    if not isinstance(view, DiffusionView) or not wait_until(lambda: window.run.info is not None, 120):
        return None
    window.pane.tabs.setCurrentWidget(window.pane.family_tab)
    view.pages.setCurrentIndex(page)
    wait_until(lambda: view.shown_step.get("denoise") is not None, 120)
    return view


def denoise_scrub_latency(window, moves: int) -> list[float]:
    """Diffusion: a kept 100-step trajectory scrubbed -> the step's x_t and predicted x_0 repainted (ms)."""
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.self_test import wait, wait_until

    view = _diffusion_view(window, 0)
    if view is None or view.points:
        return []
    view.steps.setValue(100)
    view.sample()
    wait_until(lambda: view.total == 101 and len(view.frames) == view.total, 300)
    times = []
    for i in range(moves):
        began = time.perf_counter()
        view.scrub.setValue(int(50 + 45 * math.sin(i / 3)))
        QApplication.processEvents()
        times.append((time.perf_counter() - began) * 1000)
        wait(16)
    return times


def first_frame_latency(window, moves: int) -> list[float]:
    """Diffusion: Sample pressed -> the first denoising step on screen (a new trajectory each time)."""
    from genstudio.ui.self_test import wait

    view = _diffusion_view(window, 0)
    if view is None or view.points:
        return []
    times = []
    for _ in range(min(moves, 12)):
        times.extend(answer_latency(view, "denoise", lambda _: view.sample(), 1))
        wait(300)  # the trajectory goes on meanwhile, as after a real press
    return times


def guidance_latency(window, moves: int) -> list[float]:
    """Conditional diffusion: the guidance slider moved -> the first guided denoising frame on screen
    (the same noise denoised again at the new scale)."""
    from genstudio.ui.self_test import wait

    view = _diffusion_view(window, 0)
    if view is None or view.points or not view.classes:
        return []
    times = []
    for i in range(min(moves, 12)):
        scale = (i % 4) * 4 + 2   # 0.5, 1.5, 2.5, 3.5 (the slider's ticks are quarters)
        times.extend(answer_latency(view, "denoise", lambda _, v=scale: view.guidance.setValue(v), 1))
        wait(300)
    return times


def picker_latency(view, control: str, moves: int) -> list[float]:
    """A conditional model's view: another class picked -> the explorer's answer for `control` (that
    class's pictures) on screen (ms); [] for an unconditional model or another view."""
    from genstudio.ui.self_test import wait

    if view is None or not view.classes:
        return []
    first, count = (1 if view.each_class else 0), len(view.classes)
    times = []
    for i in range(min(moves, 12)):   # always another class than the one shown (the same one asks nothing)
        index = first + (view.asked_class() + 1 + i % max(count - 1, 1)) % count
        times.extend(answer_latency(view, control, lambda _, k=index: view.class_picker.setCurrentIndex(k), 1))
        wait(300)
    return times


def class_pick_latency(window, moves: int) -> list[float]:
    """Conditional diffusion: a class picked -> the grid of that class's first denoising frame on screen."""
    view = _diffusion_view(window, 0)
    return [] if view is None or view.points else picker_latency(view, "denoise", moves)


def vae_class_latency(window, moves: int) -> list[float]:
    """Conditional VAE, latent sliders: a class picked -> the same code decoded as that class."""
    return picker_latency(_vae_lab(window, 1), "code", moves)


def gan_class_latency(window, moves: int) -> list[float]:
    """Conditional GAN on images: a class picked -> 64 images of it from the running generator."""
    return picker_latency(_gan_view(window, images=True), "class_samples", moves)


def ar_class_latency(window, moves: int) -> list[float]:
    """Conditional transformer on images, Write page: a class picked -> a new batch of it written."""
    view = _ar_view(window)
    return [] if view is None or view.kind == "text" else picker_latency(view, "generate", moves)


def ar_guidance_latency(window, moves: int) -> list[float]:
    """Conditional transformer on images, Write page: the guidance changed -> a new batch written at it."""
    from genstudio.ui.self_test import wait

    view = _ar_view(window)
    if view is None or view.kind == "text" or not view.guidable:
        return []
    times = []
    for i in range(min(moves, 12)):
        scale = 1.5 + (i % 4) * 0.5   # 1.5, 2, 2.5, 3: always another scale than the one shown
        times.extend(answer_latency(view, "generate", lambda _, v=scale: view.guidance.setValue(v), 1))
        wait(300)
    return times


def ddim_trajectory_s(window) -> float | None:
    """Seconds the explorer takes for a whole 64-sample, 50-step DDIM trajectory while training goes on."""
    from genstudio.ui.self_test import wait_until

    view = _diffusion_view(window, 0)
    if view is None or view.points:
        return None
    view.sampler.setCurrentIndex(1)
    view.eta.setValue(0.0)
    view.steps.setValue(50)
    rows = view.table.rowCount()
    view.sample()
    wait_until(lambda: view.table.rowCount() > rows, 600)
    return float(view.table.item(rows, 4).text()) if view.table.rowCount() > rows else None


@contextlib.contextmanager
def diffusion_field_on_screen(window):
    """The diffusion view's forward page on screen, the denoising field shown and following training."""
    view = _diffusion_view(window, 1)
    view.show_field.setChecked(True)
    yield


def view_rows(window, exp, budget: Budget, wanted: set[str], activity, where: str):
    """A family's view on screen (`activity`, a context manager given the window): training speed
    against headless, and the 10 ms timer's lateness."""
    ratios, late = app_vs_headless(window, exp, budget, activity)
    where = f"{exp.model}/{exp.data}, {where}"
    if "overhead" in wanted:
        yield Row(f"app / headless steps/s, {where}", statistics.median(ratios), "x", ">= 0.95")
    if "responsiveness" in wanted:
        yield Row(f"10 ms timer lateness p95, {where}", _percentile(late, 0.95), "ms", "<= 8")


def _ar_view(window):
    """The running transformer's view on its Write page with a finished batch; None for another family."""
    from genstudio.ui.self_test import wait_until
    from genstudio.ui.views.autoregressive import ARView

    view = window.pane.run_view
    if not isinstance(view, ARView) or not wait_until(lambda: window.run.info is not None, 120):
        return None
    window.pane.tabs.setCurrentWidget(window.pane.family_tab)
    view.pages.setCurrentIndex(0)
    wait_until(lambda: view.final is not None, 120)
    return view


def next_token_latency(window, moves: int) -> list[float]:
    """Autoregressive: the Write page's scrub moved one token on -> the sample and its next-token bars
    repainted (ms)."""
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.self_test import wait

    view = _ar_view(window)
    if view is None:
        return []
    view.play_button.setChecked(False)
    times = []
    for i in range(moves):
        began = time.perf_counter()
        view.scrub.setValue((i + 1) % view.length)
        QApplication.processEvents()
        times.append((time.perf_counter() - began) * 1000)
        wait(16)
    return times


def attention_scrub_latency(window, moves: int) -> list[float]:
    """Autoregressive, "What it looks at": the scrub moved one token -> every head's attention and the
    next-token bars repainted (ms)."""
    from PySide6.QtWidgets import QApplication

    from genstudio.ui.self_test import wait, wait_until

    view = _ar_view(window)
    if view is None:
        return []
    page = view.attention_page
    view.pages.setCurrentWidget(page)
    if not wait_until(lambda: page.maps is not None, 60):
        return []
    times = []
    for i in range(moves):
        began = time.perf_counter()
        page.scrub.setValue(i % (page.scrub.maximum() + 1))
        QApplication.processEvents()
        times.append((time.perf_counter() - began) * 1000)
        wait(16)
    view.pages.setCurrentIndex(0)
    return times


@contextlib.contextmanager
def ar_view_writing(window):
    """The transformer's Write page on screen, writing at 60 tokens a second, a new batch after each."""
    from PySide6.QtCore import QTimer

    view = _ar_view(window)
    view.speed.setCurrentIndex(1)
    view.generate()
    timer = QTimer()
    timer.timeout.connect(lambda: None if view.play_button.isChecked() else view.generate())
    timer.start(200)
    try:
        yield
    finally:
        timer.stop()


def generation_rows():
    """Seconds the default transformer takes to write one 8x8 digit, one 28x28 image and 100
    characters of names, in batches of 16, on one CPU thread (untrained weights: the time does not
    depend on them)."""
    import torch

    from genstudio import data as data_sets
    from genstudio.bench.images28 import digits28_path
    from genstudio.config import default_experiment
    from genstudio.models import build_model

    torch.set_num_threads(1)
    for label, data in (("one 8x8 digit", "digits"), ("one 28x28 image", digits28_path()), ("100 characters", "names")):
        exp = default_experiment("ar", data)
        model = build_model(exp, data_sets.load(exp.data, exp.data_size, exp.data_color)).eval()
        uniforms = torch.rand(16, model.tok.length, generator=torch.Generator().manual_seed(0))
        began = time.perf_counter()
        for _ in model.generate(uniforms):
            pass
        seconds = (time.perf_counter() - began) / 16
        if label == "100 characters":
            seconds *= 100 / model.tok.length
        yield Row(f"time to write {label}, ar (batches of 16, 1 thread)", seconds * 1000, "ms")
    yield from attention_rows()


def attention_rows():
    """Milliseconds the default transformer takes to compute every head's attention for one written
    sample (what the "What it looks at" page asks for): a 28x28 image (its two models) and a
    100-character line, on one CPU thread, median of 20."""
    import torch

    from genstudio import data as data_sets
    from genstudio.bench.images28 import digits28_path
    from genstudio.config import default_experiment
    from genstudio.models import build_model
    from genstudio.models.autoregressive import Transformer
    from genstudio.models.base import DataSpec

    torch.set_num_threads(1)
    exp = default_experiment("ar", digits28_path())
    image_model = build_model(exp, data_sets.load(exp.data, exp.data_size, exp.data_color)).eval()
    text = data_sets.load("names")
    line_model = Transformer(default_experiment("ar", "names").family, DataSpec("text", (100,), alphabet=text.alphabet))
    for label, model in (("a 28x28 image", image_model), ("a 100-character line", line_model.eval())):
        tokens = torch.randint(0, model.tok.vocab, (model.tok.length,), generator=torch.Generator().manual_seed(0))
        times = []
        for _ in range(20):
            began = time.perf_counter()
            model.attention(tokens)
            times.append((time.perf_counter() - began) * 1000)
        yield Row(f"every head's attention for {label}, ar (1 thread)", statistics.median(times), "ms", "<= 50")
    for data in ("names", "digits", digits28_path()):
        yield probe_cost_row(data)


def probe_cost_row(data: str, repeats: int = 20) -> Row:
    """What the heads' probe costs (every snapshot keeps one, whether or not its page is on screen): its
    median milliseconds over the window's snapshot interval (0.5 s of training), untrained default model."""
    import torch

    from genstudio import data as data_sets
    from genstudio.config import default_experiment
    from genstudio.engine.trainer import Cadence, Trainer

    exp = default_experiment("ar", data)
    cadence = Cadence(snapshot_s=None, evaluate_at_end=False)
    trainer = Trainer(exp, cadence, data_sets.load(exp.data, exp.data_size, exp.data_color))
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            began = time.perf_counter()
            trainer.model.probe(trainer.dataset)
            times.append(time.perf_counter() - began)
    name = "digits28" if os.path.sep in data else data
    share = 100 * statistics.median(times) / Cadence().snapshot_s
    return Row(f"the heads' probe's share of training time (one per snapshot), ar/{name}", share, "%", "<= 1")


# Every interactive control: name -> f(window, moves) -> latencies in ms while the app trains ([] when
# the running family's view lacks it). The diffusion scrub and next-token bars add theirs as they arrive.
CONTROLS = {"timeline scrub": scrub_latency, "timeline Best -> best step's samples": best_jump_latency,
            "vae latent slider -> image": slider_latency,
            "vae map click -> image": map_click_latency, "vae interpolation strip (8 decodes)": interpolation_latency,
            "gan nearest-neighbour click -> images": nearest_latency,
            "diffusion scrub (100-step trajectory kept)": denoise_scrub_latency,
            "diffusion Sample -> first denoising frame": first_frame_latency,
            "diffusion guidance slider -> first guided frame": guidance_latency,
            "diffusion class picker -> that class's grid": class_pick_latency,
            "vae class picker -> that class's image": vae_class_latency,
            "gan class picker -> that class's images": gan_class_latency,
            "ar class picker -> that class's batch": ar_class_latency,
            "ar next token -> sample and bars": next_token_latency,
            "ar attention scrub -> heads and bars": attention_scrub_latency,
            "ar guidance -> a new batch": ar_guidance_latency}   # last: it leaves the batch guided
CONTROL_GOALS = {"vae latent slider -> image": "<= 16", "vae map click -> image": "<= 16",
                 "diffusion scrub (100-step trajectory kept)": "<= 16",
                 "diffusion Sample -> first denoising frame": "<= 300",
                 "diffusion guidance slider -> first guided frame": "<= 300",
                 "diffusion class picker -> that class's grid": "<= 100",
                 "vae class picker -> that class's image": "<= 100",
                 "gan class picker -> that class's images": "<= 100",
                 "ar class picker -> that class's batch": "<= 100", "ar next token -> sample and bars": "<= 16",
                 "ar attention scrub -> heads and bars": "<= 16", "ar guidance -> a new batch": "<= 100"}
# Data sets a family's interaction rows also run on, for controls its default data lacks ("digits28":
# the 28x28 digits of images28.py, whose transformer is the two-model RowTransformer)
MORE_INTERACTION_DATA = {"gan": ("digits",), "diffusion": ("digits",), "ar": ("names", "digits28")}


def lab_rows(window, exp, budget: Budget, wanted: set[str], copy_ms: float | None):
    """The VAE lab on screen with a slider dragged at 60 Hz: training speed against headless, the
    10 ms timer's lateness, and the share of training time the weight copies take."""
    ratios, late, copies, seconds = [], [], 0, 0.0
    for _ in range(budget.app_repeats):
        head = headless_rate(exp, budget.app_s, budget.warmup_steps)
        asked = window.run.weights_requests
        began = time.perf_counter()
        rate, lateness = app_rate(window, exp, budget.app_s, budget.warmup_steps, activity=lab_slider_drag)
        copies, seconds = copies + window.run.weights_requests - asked, seconds + time.perf_counter() - began
        window.pane.toggle_training()
        ratios.append(rate / head)
        late.extend(lateness)
    where = f"{exp.model}/{exp.data}, latent lab on screen + slider drag"
    if "overhead" in wanted:
        yield Row(f"app / headless steps/s, {where}", statistics.median(ratios), "x", ">= 0.95")
        yield Row(f"weight copies to the explorer per second, {where}", copies / seconds, "/s")
        if copy_ms is not None:
            yield Row(f"weight copies' share of training time, {where}", copies / seconds * copy_ms / 10, "%", "<= 2")
    if "responsiveness" in wanted:
        yield Row(f"10 ms timer lateness p95, {where}", _percentile(late, 0.95), "ms", "<= 8")


def weight_copy_ms(family: str, copies: int = 30) -> float:
    """Median ms the training loop spends on one copy of the explorer's weights (default config),
    pickled as the training process sends it to the window."""
    from genstudio.config import default_experiment
    from genstudio.engine.trainer import Cadence, Trainer

    trainer = Trainer(default_experiment(family), Cadence(snapshot_s=None, evaluate_at_end=False))
    _consume(trainer.run(steps=5))
    times = []
    for _ in range(copies):
        began = time.perf_counter()
        pickle.dumps(trainer.weights(), protocol=pickle.HIGHEST_PROTOCOL)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def section_app(budget: Budget, wanted: set[str], families=None):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from genstudio.config import FAMILIES, default_experiment
    from genstudio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = tempfile.mkdtemp(prefix="genstudio-bench-")
    window = MainWindow(QSettings(os.path.join(tmp, "bench.ini"), QSettings.IniFormat))
    window.show()
    try:
        for family in families or FAMILIES:
            exp = default_experiment(family)
            where = f"{family}/{exp.data}"
            ratios, late = app_vs_headless(window, exp, budget,
                                           repeats=budget.app_repeats if wanted & {"overhead", "responsiveness"} else 0)
            if "overhead" in wanted:
                yield Row(f"app / headless steps/s, {where}", statistics.median(ratios), "x", ">= 0.95")
                copy_ms = weight_copy_ms(family)
                yield Row(f"weight copy to the explorer, {where}", copy_ms, "ms")
            if family == "vae" and wanted & {"overhead", "responsiveness"}:
                yield from lab_rows(window, exp, budget, wanted, copy_ms if "overhead" in wanted else None)
            if family == "gan" and wanted & {"overhead", "responsiveness", "interaction"}:
                yield from gan_view_rows(window, exp, budget, wanted)
            if family == "gan" and "overhead" in wanted:
                yield from two_runs_rows(window, exp, budget)
            if family == "diffusion" and wanted & {"overhead", "responsiveness"}:
                yield from view_rows(window, exp, budget, wanted, diffusion_field_on_screen,
                                     "forward page + denoising field on screen")
            if family == "ar" and wanted & {"overhead", "responsiveness"}:
                yield from view_rows(window, exp, budget, wanted, ar_view_writing, "Write page animating")
            if "responsiveness" in wanted:
                yield Row(f"10 ms timer lateness p50, {where}", _percentile(late, 0.5), "ms")
                yield Row(f"10 ms timer lateness p95, {where}", _percentile(late, 0.95), "ms", "<= 8")
                yield Row(f"10 ms timer lateness max, {where}", max(late), "ms", "<= 33")
            if "interaction" in wanted:
                for data in (exp.data, *MORE_INTERACTION_DATA.get(family, ())):
                    if data == "digits28":
                        from genstudio.bench.images28 import digits28_path
                        window.pane.panel.set_experiment(default_experiment(family, digits28_path()))
                    else:
                        window.pane.panel.set_experiment(default_experiment(family, data))
                    window.pane.reset(start=True)
                    for control, measure in CONTROLS.items():
                        if data != exp.data and control.startswith("timeline"):
                            continue
                        times = measure(window, budget.scrubs)
                        if times:  # a control this family's view does not have gives no row
                            yield Row(f"{control} latency p95, {family}/{data}", _percentile(times, 0.95), "ms",
                                      CONTROL_GOALS.get(control, "<= 33"))
                    if family == "diffusion" and (seconds := ddim_trajectory_s(window)) is not None:
                        yield Row(f"64-sample 50-step DDIM trajectory while training, {family}/{data}", seconds, "s")
                    window.pane.toggle_training()
                if family == "ar":
                    yield from generation_rows()
    finally:
        window.discard_on_close = True
        window.close()
        app.processEvents()


# 4. startup -------------------------------------------------------------------------------------

FROZEN_APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(genstudio.__file__))),
                          "dist", "GenStudio", "GenStudio")  # build_scripts/build.py's output


def startup_times(command: list[str]) -> tuple[float, float]:
    """Seconds from process start to the first window shown, and to its first trained sample
    (ui/startup_probe.py presses Train): the real entry point, offscreen, with fresh settings."""
    with tempfile.TemporaryDirectory(prefix="genstudio-startup-") as tmp:
        env = dict(os.environ, XDG_CONFIG_HOME=tmp, HOME=os.environ.get("HOME", tmp), QT_QPA_PLATFORM="offscreen",
                   GENSTUDIO_STARTUP_PROBE="1")
        began = time.time()
        out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300).stdout
    stamps = dict(line.split()[:2] for line in out.splitlines() if line.split()[:1] in (["shown"], ["sample"]))
    return float(stamps["shown"]) - began, float(stamps["sample"]) - began


def section_startup(budget: Budget):
    apps = [("", [sys.executable, "-m", "genstudio", "gui"], "<= 0.5")]
    if os.path.exists(FROZEN_APP):
        apps.append(("frozen app, ", [FROZEN_APP, "gui"], "<= 1.0"))
    for name, command, window_goal in apps:
        startup_times(command)  # a first launch warms the disk cache (the goals are for a warm one)
        runs = [startup_times(command) for _ in range(budget.startup_runs)]
        yield Row(f"startup, {name}first window shown (median of {len(runs)})",
                  statistics.median(r[0] for r in runs), "s", window_goal)
        yield Row(f"startup, {name}first trained sample (median of {len(runs)})",
                  statistics.median(r[1] for r in runs), "s", "<= 2.5")


# 6. quality ---------------------------------------------------------------------------------------

def section_quality(budget: Budget):
    from genstudio import data as data_sets
    from genstudio.bench.targets import TARGETS, Target, run
    from genstudio.engine.evaluate import real_floor

    for target in TARGETS:
        if target.modes is None or target.model not in ("gan", "diffusion"):
            continue
        cap = target.seconds * budget.target_scale
        row = run(replace(target, seconds=cap), seed=0, overrides={}, eval_s=min(5.0, cap / 4) if cap >= 8 else None,
                  threads=0, stop_when_met=True)
        met = row["met_at_s"]
        goal = f"<= {target.seconds:g}"
        if met is None:
            yield Row(f"seconds to {target.name} target (not met in {cap:g} s)", cap, "s", goal, meets=False)
        else:
            yield Row(f"seconds to {target.name} target ({target.modes} modes, HQ >= {target.hq:g})", met, "s", goal)
    for family in ("vae", "diffusion", "gan", "ar"):
        row = run(Target(family, "digits", budget.fd_s), seed=0, overrides={}, eval_s=None, threads=0)
        yield Row(f"Frechet distance, {family}/digits after {budget.fd_s:g} s", row["metrics"]["fd"], "")
    yield Row("Frechet distance, held-out real digits (floor)", real_floor(data_sets.load("digits"))["fd"], "")
    yield from text_quality_rows(budget)


def text_quality_rows(budget: Budget):
    """The transformer on the built-in names for the lesson's time, next to the bigram baseline of the
    same split (makemore, on its own 32,000 names: bigram ~2.45, small transformer ~1.92 nats/char)."""
    from genstudio import data as data_sets
    from genstudio.bench.targets import Target, run
    from genstudio.engine.metrics import bigram_nats

    ds = data_sets.load("names")
    row = run(Target("ar", "names", budget.text_s), seed=0, overrides={}, eval_s=None, threads=0)
    where = f"names ({len(ds.words):,} training lines)"
    yield Row(f"held-out nats/char, ar/{where} after {budget.text_s:g} s", row["metrics"]["nats_per_char"], "nats")
    yield Row(f"held-out nats/char, bigram baseline, {where}", bigram_nats(ds.words, ds.held_out_words, ds.alphabet),
              "nats")


# 6a. guidance and flow matching ------------------------------------------------------------------------

def section_conditional(budget: Budget):
    """Conditional diffusion and the conditional transformer on the 28x28 digits: class accuracy and FD
    at each guidance scale of one trained model each (best held-out weights); then DDPM noise prediction
    (DDIM sampler) against flow matching (Euler) at equal training time on ring8, grid25 (budget.fd_s)
    and the 28x28 digits (budget.images_s): quality at 5, 10, 20 and 50 steps and, on 2D data, how
    straight the paths are."""
    from genstudio.config import default_experiment

    from .conditional import flow_against_ddpm, guidance_curve
    from .images28 import digits28_path

    digits28 = digits28_path()
    full = budget.images_s >= 300
    samples = None if full else 100   # (the evaluator's 500 take minutes of sampling at 50 steps)
    for family, accuracy_goal in (("diffusion", ">= 0.9"), ("ar", ">= 0.8")):
        facts, curve = guidance_curve(digits28, budget.images_s, samples=samples, family=family)
        where = f"{family}/digits28 after {budget.images_s:g} s"
        default = default_experiment(family, digits28).family.guidance
        for point in curve:
            g = point["guidance"]
            chosen = " (the default)" if g == default else ""
            yield Row(f"class accuracy, {where}, guidance {g:g}{chosen}", point["class_accuracy"], "",
                      accuracy_goal if chosen and full else None)
            yield Row(f"Frechet distance, {where}, guidance {g:g}{chosen}", point["fd"], "",
                      "<= 15" if chosen and full else None)
    for data, seconds in (("ring8", budget.fd_s), ("grid25", budget.fd_s), ("digits28", budget.images_s)):
        result = flow_against_ddpm(digits28 if data == "digits28" else data, seconds, samples=samples)
        names = {"eps": "DDPM (DDIM sampler)", "flow": "flow matching (Euler)"}
        for objective, r in result.items():
            yield Row(f"steps/s, {names[objective]}, {data}", r["steps_per_s"], "/s")
            for n, m in r["by_steps"].items():
                what = "Frechet distance" if "fd" in m else "energy distance"
                yield Row(f"{what}, {names[objective]}, {data} after {seconds:g} s, {n} steps",
                          m.get("fd", m.get("energy_distance")), "")
                if "modes_captured" in m:
                    yield Row(f"high-quality share, {names[objective]}, {data}, {n} steps", m["hq_fraction"], "")
        if data != "digits28":
            for n in result["flow"]["by_steps"]:
                flow, ddpm = (result[o]["by_steps"][n]["straightness"] for o in ("flow", "eps"))
                yield Row(f"path length / straight line, flow matching, {data}, {n} steps", flow, "")
                yield Row(f"path length / straight line, DDPM (DDIM sampler), {data}, {n} steps", ddpm, "")
                yield Row(f"path excess over straight, flow matching / DDPM, {data}, {n} steps",
                          (flow - 1) / max(ddpm - 1, 1e-9), "", "<= 0.5")


# 6b. real-size images ------------------------------------------------------------------------------

def section_images(budget: Budget, data: str | None = None, data_name: str | None = None, first: int = 1000):
    """Every family on 28x28 images for the lesson's time, from the best held-out step's weights (what
    the command line writes); the VAE beside the pytorch/examples VAE at two times. On the stand-in
    digits, or on a user's image set (`data`, named `data_name` in the rows) and then its first `first`
    images (0: not)."""
    from genstudio import data as data_sets
    from genstudio.bench.images28 import digits28_path, first_images, train, tutorial_vae

    if data is None:
        sets = [("digits28", digits28_path())]
    else:
        name = data_name or os.path.basename(data)
        sets = [(name, data)] + ([(f"{name}, first {first:,}", first_images(data, first))] if first else [])
    full = budget.images_s >= 300
    for label, path in sets:
        goals = full and path == sets[0][1]   # the goals are set for the whole set
        vae = None
        for family in ("vae", "gan", "diffusion", "ar"):
            row = train(family, budget.images_s, data=path)
            vae = row if family == "vae" else vae
            where = f"{family}/{label} after {budget.images_s:g} s"
            yield Row(f"steps/s, {where}", row["steps_per_s"], "/s")
            yield Row(f"Frechet distance, {where}", row["fd"], "", "<= 15" if goals else None)
            yield Row(f"classes holding >= 5% of samples, {where}", row["class_coverage"], "/10",
                      ">= 10" if goals else None)
            if "class_accuracy" in row:
                yield Row(f"class accuracy (samples of the class asked), {where}", row["class_accuracy"], "",
                          ">= 0.8" if goals else None)
            yield Row(f"snapshots and evaluations, share of wall time, {where}", 100 * row["report_share"], "%",
                      "<= 25")
            yield Row(f"held-out curve, share of wall time, {where}", 100 * row["held_out_share"], "%", "<= 5")
            yield Row(f"64-sample snapshot, {family}/{label}", row["snapshot_s"], "s", "<= 1")
            yield Row(f"final evaluation, {family}/{label}", row["final_eval_s"], "s", "<= 20")
        ds = data_sets.load(path)
        # the tutorial's VAE is unconditional: so is ours here (a conditional one's -log p(x | class) is lower)
        if vae["classes"]:
            vae = train("vae", budget.images_s, {"condition": "none"}, data=path)
        short = train("vae", budget.tutorial_s, {"condition": "none"}, data=path)
        for seconds, ours in ((budget.tutorial_s, short), (budget.images_s, vae)):
            where = f"{label}, {seconds:g} s each, 1 thread"
            tutorial = tutorial_vae(ds, seconds)
            yield Row(f"held-out negative ELBO, pytorch/examples VAE, {where}", tutorial["nll_nats"], "nats")
            yield Row(f"held-out negative ELBO, GenStudio VAE - pytorch/examples VAE, {where}",
                      ours["nll_nats"] - tutorial["nll_nats"], "nats", "<= 0")
        yield Row(f"held-out negative ELBO, GenStudio VAE after {budget.images_s:g} s - after "
                  f"{budget.tutorial_s:g} s, {label}", vae["nll_nats"] - short["nll_nats"], "nats", "<= 0.5")


# 7. memory -----------------------------------------------------------------------------------------

def rss_mib(pid: int | str = "self") -> tuple[float, float]:
    """(current RSS, peak RSS) of a process (this one by default) in MiB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except OSError:  # not Linux: this process's peak only
        if pid != "self":
            return 0.0, 0.0
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak /= 2**20 if sys.platform == "darwin" else 1024
        return peak, peak


def memory_probe(seconds: float, family: str, data: str = "ring8") -> None:
    """Child process: the app trains `family` on `data` for `seconds`; prints RSS samples (the window's
    process and its training process together) and the number of states kept to fork from, as JSON."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from genstudio.config import default_experiment
    from genstudio.ui.main_window import MainWindow

    app = QApplication([])
    tmp = tempfile.mkdtemp(prefix="genstudio-memory-")
    window = MainWindow(QSettings(os.path.join(tmp, "bench.ini"), QSettings.IniFormat))
    window.show()
    window.pane.panel.set_experiment(default_experiment(family, data))
    window.pane.reset(start=True)
    samples: list[tuple[float, float]] = []
    peak = [0.0]

    def both() -> tuple[float, float]:
        process = getattr(window.run.worker, "_process", None)
        child = rss_mib(process.pid) if process is not None and process.pid else (0.0, 0.0)
        mine = rss_mib()
        return mine[0] + child[0], mine[1] + child[1]

    def sample(now: float) -> None:
        current, peak[0] = both()
        samples.append((now, current, len(window.pane.timeline.forkable)))

    run_window_for(app, window, seconds, max(100, int(seconds * 1000 / 300)), sample)
    print(json.dumps({"samples": samples, "peak": peak[0], "steps": window.run.step}))


def run_window_for(app, window, seconds: float, every_ms: int, each, settled=lambda: True) -> None:
    """Run the app for `seconds`, calling each(seconds so far) every `every_ms`, and on until settled()
    (for at most a minute more); then close the window (whatever it holds) and return."""
    from PySide6.QtCore import QTimer

    began = time.perf_counter()

    def tick():
        now = time.perf_counter() - began
        each(now)
        if now >= seconds and settled() or now >= seconds + 60:
            timer.stop()
            window.discard_on_close = True
            window.close()
            app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(every_ms)
    app.exec()


FORK_POINTS_CAP_MB = 32   # below the default 256 MB, so that the run reaches the cap within its first minutes


def section_memory(budget: Budget):
    """The app trains the model with the largest kept states among the built-in defaults (diffusion
    on digits, 5.8 MB a state) with fork points on, as every window run has them, capped low enough
    to be reached early: memory must be flat after that."""
    family, data = "diffusion", "digits"
    code = f"from genstudio.bench.bench import memory_probe; memory_probe({budget.memory_s!r}, {family!r}, {data!r})"
    env = {**os.environ, "GENSTUDIO_FORK_POINTS_MB": str(FORK_POINTS_CAP_MB)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         timeout=budget.memory_s + 300).stdout
    result = json.loads(out.strip().splitlines()[-1])
    samples = result["samples"]
    most = max(n for _, _, n in samples)
    capped = next(i for i, (_, _, n) in enumerate(samples) if n == most)   # the kept states stop growing here
    rss = [r for _, r, _ in samples[capped:]]
    k = max(1, len(rss) // 20)  # average a few samples at each end
    growth = statistics.mean(rss[-k:]) - statistics.mean(rss[:k])
    where = f"{budget.memory_s:g} s app run, {family}/{data}, fork points capped at {FORK_POINTS_CAP_MB} MB"
    yield Row(f"memory: peak RSS (window + training process), {where}", result["peak"], "MiB")
    yield Row(f"memory: states kept to fork from (most), {where}", most, "states")
    yield Row(f"memory: seconds until the kept states stopped growing, {where}", samples[capped][0], "s")
    yield Row(f"memory: RSS growth after that, to the end, {where}", growth, "MiB", "<= 10")


# the table -------------------------------------------------------------------------------------------

def machine() -> str:
    import torch

    from genstudio.engine.device import default_threads

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"{default_threads()} torch thread(s) for training")


def run_sections(wanted: list[str], budget: Budget, images: str | None = None, images_name: str | None = None,
                 images_first: int = 1000):
    """Rows, section by section, as they are measured (`images`: a user's image set for the images
    section, instead of the stand-in digits, and then its first `images_first` images)."""
    if "engine" in wanted:
        yield from section_engine(budget)
    if set(APP_SECTIONS) & set(wanted):
        yield from section_app(budget, set(APP_SECTIONS) & set(wanted))
    if "startup" in wanted:
        yield from section_startup(budget)
    if "quality" in wanted:
        yield from section_quality(budget)
    if "conditional" in wanted:
        yield from section_conditional(budget)
    if "images" in wanted:
        yield from section_images(budget, images, images_name, images_first)
    if "memory" in wanted:
        yield from section_memory(budget)
    if "long-use" in wanted:
        from .long_use import section_long_use
        yield from section_long_use(budget)


def report(title: str, rows, json_path: str | None = None) -> list[Row]:
    """Print the header and each row as it is measured; write the JSON list at the end."""
    began = time.perf_counter()
    print(f"# {title}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"# {machine()}")
    print(f"{'row':<62} {'value':>9} {'unit':<8} {'goal':<12} verdict", flush=True)
    done = []
    for row in rows:
        done.append(row)
        print(row.line(), flush=True)
    misses = sum(r.meets is False for r in done)
    print(f"# {len(done)} rows, {misses} miss their goal{'s' if misses != 1 else ''}; "
          f"{time.perf_counter() - began:.0f} s", flush=True)
    if json_path:
        with open(json_path, "w") as fh:
            json.dump([asdict(r) for r in done], fh, indent=1)
            fh.write("\n")
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="genstudio bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes (shorter measurements)")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="SECTION",
                        help=f"run only this section (repeatable): {', '.join(SECTIONS)}")
    parser.add_argument("--json", metavar="FILE", help="also write the rows here as a JSON list")
    parser.add_argument("--budget-scale", type=float, default=1.0, metavar="K",
                        help="multiply every duration by K (the test uses 0.02: checks the table, not the speed)")
    parser.add_argument("--images", metavar="PATH",
                        help="the images section measures this image set (a file or folder GenStudio imports, "
                             "with labels) and its first images, instead of the font-drawn stand-in digits")
    parser.add_argument("--images-name", metavar="NAME", help="what the rows call that set (default: its file name)")
    parser.add_argument("--images-first", type=int, default=1000, metavar="N",
                        help="then measure the set's first N images too (default 1000; 0: not)")
    args = parser.parse_args(argv)
    budget = (QUICK if args.quick else FULL).scaled(args.budget_scale)
    wanted = [s for s in SECTIONS if s in args.only] if args.only else [s for s in SECTIONS if s not in ON_REQUEST]
    title = (f"genstudio bench{' --quick' if args.quick else ''}, sections: {', '.join(wanted)}"
             + (f", budget x{args.budget_scale:g}" if args.budget_scale != 1 else ""))
    from genstudio.ui.threads import SlotErrors

    with SlotErrors() as slots:
        report(title, run_sections(wanted, budget, args.images, args.images_name, args.images_first), args.json)
    for error in slots.errors:   # Qt only prints these: a bench that met one has measured a broken app
        print(f"bench: FAILED: an exception in a Qt slot or callback: {error}", file=sys.stderr)
    return 1 if slots.errors else 0


if __name__ == "__main__":
    sys.exit(main())
