"""Training as a generator of events, consumed alike by the CLI, the benchmarks and the GUI.

Loss values stay on the device in a buffer and are read only when an event is due (no host sync
per step). Stop, pause and hyperparameter changes are honoured between steps.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .. import data as data_sets
from ..config import ConfigError, Experiment
from ..models import build_model
from .device import default_threads, resolve_device
from .evaluate import Evaluator
from .events import Checkpoint, Diverged, Finished, ForkState, HeldOut, LossPoints, Metrics, Snapshot, Weights
from .fork_points import ForkPoints
from .state import TrainerState, capture, restore

LOSS_BUFFER = 4096
# A report costing c seconds waits at least k c seconds of training. Snapshots (k = 7) take at most an
# eighth of the wall time; the held-out curve (k = 19) at most a twentieth and evaluations (k = 40/3 - 1)
# at most the rest of another eighth: all reports together at most a quarter, at any image size.
SLOW_REPORT_FACTOR = 7.0
HELD_OUT_FACTOR = 19.0
EVALUATION_FACTOR = 40 / 3 - 1
HELD_OUT_ITEMS = 512     # training and held-out items each measure uses (fewer where the set is smaller)
HELD_OUT_CHUNK = 128


@dataclass(frozen=True)
class Cadence:
    """How often the generator reports, in seconds of training time (None = only at the end).

    Training time excludes pauses and the time spent on snapshots and evaluations (and on the
    consumer's handling of them, since the generator is suspended while they are handled).
    """
    loss_s: float = 0.05                 # at most ~20 loss messages a second
    snapshot_s: float | None = 0.5
    first_snapshot_s: float = 0.1        # a new run's first trained sample comes this soon: Train shows it moving
    eval_s: float | None = None
    held_out_s: float | None = 2.0       # the held-out curve (measure_held_out); with snapshots on, right after one
    snapshot_count: int = 64
    snapshot_weights: bool = False       # attach a CPU copy of the weights to each snapshot
    fork_points: bool = False            # keep whole states at snapshots, to fork from (engine/fork_points.py)
    evaluate_at_end: bool = True


class Trainer:
    def __init__(self, exp: Experiment, cadence: Cadence = Cadence(), dataset: data_sets.Dataset | None = None,
                 state: TrainerState | None = None, fork_points: tuple[TrainerState, ...] = (),
                 held_out: tuple[HeldOut, ...] = ()):
        """`dataset`: use this one instead of loading exp.data (an experiment file's embedded copy).
        `state`: continue from a captured state (raises ValueError when it does not fit).
        `fork_points`: past states of the run to keep forking from (an experiment file's).
        `held_out`: the run's held-out curve so far (an experiment file's): its best step goes on being
        the best until a lower value comes, when its state is among `fork_points`."""
        self.exp, self.cadence = exp, cadence
        self.device = resolve_device(exp.device)
        torch.set_num_threads(exp.threads or default_threads())
        self.dataset = dataset or data_sets.load(exp.data, exp.data_size, exp.data_color)
        torch.manual_seed(exp.seed)
        self.model = build_model(exp, self.dataset).to(self.device)
        self.model.configure_optimizers()
        self.model.train()
        self.train_data = self.model.encode_data(self.dataset).to(self.device)
        self.train_labels = self._labels(self.dataset.labels)
        self.batch_size = exp.family.batch_size
        self.batch_gen = torch.Generator(self.device).manual_seed(exp.seed)
        noise_gen = torch.Generator(self.device).manual_seed(exp.seed + 1)
        self.fixed_noise = self.model.make_noise(self.model.snapshot_size(cadence.snapshot_count), noise_gen)
        self.evaluator = Evaluator(self.dataset, self.model, self.device)
        self.loss_names = self.model.loss_names
        self.step = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._commands: queue.Queue = queue.Queue()
        self._buffer = torch.zeros(LOSS_BUFFER, len(self.loss_names), device=self.device)
        self._filled = 0            # losses in the buffer not yet reported
        self._flushed_at = 0.0      # training seconds at the last report
        self.diverged = False       # a loss became NaN/inf: the run cannot go on
        self.idle = False           # paused, between steps, everything so far reported
        if state is not None:
            try:
                restore(state, self.model, self.model.optimizers(), self.batch_gen, self.device)
            except ValueError as exc:   # settings whose networks differ from the state's: a message, no traceback
                raise ConfigError(str(exc)) from None
            self.step, self.seconds = state.step, state.seconds
            self._flushed_at = state.seconds
        self.fork_points = ForkPoints() if cadence.fork_points else None
        for kept in fork_points if self.fork_points is not None else ():
            self.fork_points.add(kept)
        self._held_out_items = self._pick_held_out_items(exp.seed)
        self._held_out_step = -1
        self.held_out_seconds = 0.0                  # wall time the held-out measures took (the bench's share)
        self.best: HeldOut | None = None             # the measure at the best step so far
        self.best_state: TrainerState | None = None  # the whole state there (forkable, and what the CLI writes)
        self._remember_best(held_out, fork_points)

    @classmethod
    def forked(cls, exp: Experiment, state: TrainerState, cadence: Cadence = Cadence(),
               dataset: data_sets.Dataset | None = None) -> "Trainer":
        """A new run that starts from `state` (a past point of another run) with `exp`'s settings:
        the same weights, optimiser moments and random streams, and the learning rate, beta or loss
        variant `exp` names. Raises ValueError when the state does not fit `exp`'s networks."""
        trainer = cls(exp, cadence, dataset, state)
        trainer.model.set_lr(exp.family.lr)  # the state carries the old run's learning rate
        return trainer

    # commands, safe from any thread ---------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def set_lr(self, lr: float) -> None:
        self._commands.put(("lr", float(lr)))

    def set_hparam(self, name: str, value) -> None:
        """Change a family setting that the model reads every step (the VAE's beta), between steps."""
        self._commands.put(("hparam", (name, value)))

    def request_checkpoint(self) -> None:
        """Ask for a Checkpoint event at the next step boundary (running or paused)."""
        self._commands.put(("checkpoint", None))

    def request_fork_state(self, step: int) -> None:
        """Ask for a ForkState event: the state kept at `step` or the nearest one before it."""
        self._commands.put(("fork", int(step)))

    def request_weights(self) -> None:
        """Ask for a Weights event (the explorer's networks, CPU copies) at the next step boundary."""
        self._commands.put(("weights", None))

    def step_once(self, part: str = "all") -> None:
        """While paused: one optimisation step (`part` "d" or "g": one GAN network only)."""
        self._commands.put(("step", part))

    # pieces of the loop --------------------------------------------------------------------
    def draw(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """A batch of training examples; with their labels for a class-conditional model."""
        idx = torch.randint(len(self.train_data), (self.batch_size,), device=self.device, generator=self.batch_gen)
        return self.train_data[idx] if self.train_labels is None else (self.train_data[idx], self.train_labels[idx])

    def _labels(self, labels) -> torch.Tensor | None:
        """A split's labels on the device, when the model is class-conditional."""
        return torch.from_numpy(labels).long().to(self.device) if self.model.classes and labels is not None else None

    def _apply_commands(self) -> tuple[list[str], list[str]]:
        """Apply hyperparameter changes; return the single steps asked for and the reports asked for
        ("checkpoint", "weights")."""
        steps, wanted = [], []
        while not self._commands.empty():
            name, value = self._commands.get_nowait()
            if name == "lr":
                self.model.set_lr(value)
            elif name == "hparam":
                self.model.cfg = dataclasses.replace(self.model.cfg, **{value[0]: value[1]})
                self.exp = dataclasses.replace(self.exp, family=self.model.cfg)
            elif name == "step":
                steps.append(value)
            elif name == "fork":
                wanted.append(("fork", value))
            elif name not in wanted:
                wanted.append(name)
        return steps, wanted

    def _report(self, wanted):
        if isinstance(wanted, tuple):  # ("fork", step)
            kept = self.fork_points.nearest(wanted[1]) if self.fork_points is not None else None
            return ForkState(wanted[1] if kept is None else kept.step, kept)
        return self._checkpoint() if wanted == "checkpoint" else self.weights()

    def state(self) -> TrainerState:
        """The whole training state as CPU copies (call between steps, from the training thread)."""
        return capture(self.model, self.model.optimizers(), self.batch_gen, self.device, self.step, self.seconds)

    def _checkpoint(self) -> Checkpoint:
        kept = self.fork_points.all() if self.fork_points is not None else ()
        return Checkpoint(self.step, self.seconds, self.state(), kept)

    def weights(self) -> Weights:
        """The sampling networks' weights as CPU arrays (what the explorer's replica loads)."""
        state = {k: v.detach().cpu().numpy().copy() for k, v in self.model.explorer_state().items()}
        return Weights(self.step, self.seconds, state)

    def _rng_devices(self):
        return [self.device] if self.device.type == "cuda" else []

    def snapshot(self) -> Snapshot:
        # fork_rng keeps the training RNG stream intact; inference_mode skips autograd's bookkeeping
        # (4-9% faster snapshots for the diffusion MLP and the transformer)
        with torch.random.fork_rng(devices=self._rng_devices()), torch.inference_mode():
            samples = self.model.decode(self.model.sample(self.fixed_noise), self.dataset)
            probe = self.model.probe(self.dataset)
        state = None
        if self.cadence.snapshot_weights:
            state = {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}
        forkable = ()
        if self.fork_points is not None:
            self.fork_points.add(self.state())
            forkable = tuple(self.fork_points.steps())
        labels = self.model.sample_labels(len(self.fixed_noise)).numpy() if self.model.classes else None
        return Snapshot(self.step, self.seconds, samples, state, forkable, probe, labels)

    # the held-out curve and the best weights ------------------------------------------------------
    def _pick_held_out_items(self, seed: int) -> tuple[tuple, tuple] | None:
        """A fixed random subset of the training items and as many held-out ones, each as (items,
        labels or None) (None: the model measures nothing, or the data has no held-out part)."""
        held = self.evaluator.held_out
        n = min(HELD_OUT_ITEMS, len(held), len(self.train_data))
        if self.model.held_out_name is None or self.cadence.held_out_s is None or n == 0:
            return None
        picked = torch.randperm(len(self.train_data), generator=torch.Generator().manual_seed(seed + 2))[:n]
        picked = picked.to(self.device)
        held_labels = self._labels(self.dataset.held_out_labels)
        return ((self.train_data[picked], None if self.train_labels is None else self.train_labels[picked]),
                (held[:n], None if held_labels is None else held_labels[:n]))

    @property
    def held_out_measure(self) -> str | None:
        """What the held-out curve measures (None: this run has no held-out curve)."""
        return self.model.held_out_name if self._held_out_items is not None else None

    def _remember_best(self, past: tuple[HeldOut, ...], kept: tuple[TrainerState, ...]) -> None:
        if not past or past[-1].best_step is None or not self.model.ranks_weights:
            return
        best = next((h for h in past if h.step == past[-1].best_step), None)
        state = next((k for k in kept if k.step == past[-1].best_step), None)
        if best is not None and state is not None:
            self.best, self.best_state = best, state
            if self.fork_points is not None:
                self.fork_points.best = state

    def _objective(self, items: tuple[torch.Tensor, torch.Tensor | None]) -> float:
        x, labels = items
        chunks = zip(x.split(HELD_OUT_CHUNK), labels.split(HELD_OUT_CHUNK)) if labels is not None else \
            ((chunk,) for chunk in x.split(HELD_OUT_CHUNK))
        total, count = 0.0, 0
        for chunk in chunks:
            torch.manual_seed(0)   # the same random draws (a VAE's z) for the training and the held-out items
            part_sum, part_count = self.model.held_out_loss(*chunk)
            total, count = total + float(part_sum), count + part_count
        return total / max(count, 1)

    def measure_held_out(self) -> HeldOut | None:
        """The held-out curve's next point; a new best keeps this step's whole state."""
        if self._held_out_items is None:
            return None
        self._held_out_step = self.step
        began = time.perf_counter()
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=self._rng_devices()), torch.inference_mode():
                train, held = (self._objective(items) for items in self._held_out_items)
        finally:
            self.model.train()
        ranks = self.model.ranks_weights and math.isfinite(held)
        if ranks and (self.best is None or held < self.best.held_out):
            self.best = HeldOut(self.step, self.seconds, train, held, self.step)
            newest = self.fork_points.states[-1] if self.fork_points is not None and self.fork_points.states else None
            self.best_state = newest if newest is not None and newest.step == self.step else self.state()
            if self.fork_points is not None:
                self.fork_points.best = self.best_state
        self.held_out_seconds += time.perf_counter() - began
        return HeldOut(self.step, self.seconds, train, held, self.best.step if ranks and self.best else None)

    @contextlib.contextmanager
    def best_weights(self):
        """The block runs with the weights of the best step (the last ones when there is none, or they
        are the best); the last state comes back after it. Yields the step whose weights are in use."""
        if self.best_state is None or self.best_state.step == self.step:
            yield self.step
            return
        last = self.state()
        optimizers = self.model.optimizers()
        restore(self.best_state, self.model, optimizers, self.batch_gen, self.device)
        try:
            yield self.best_state.step
        finally:
            restore(last, self.model, optimizers, self.batch_gen, self.device)

    def evaluate(self) -> Metrics:
        # eval mode: dropout off while scoring (it had made the transformer's held-out NLL pessimistic)
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=self._rng_devices()), torch.inference_mode():
                values = self.evaluator()
        finally:
            self.model.train()
        return Metrics(self.step, self.seconds, values)

    def _record(self, losses: torch.Tensor) -> None:
        self._buffer[self._filled].copy_(losses)  # stays on the device: no host sync
        self._filled += 1
        self.step += 1

    def _flush(self) -> list:
        """Read the device-side loss buffer once: [LossPoints], or [LossPoints, Diverged] (and
        self.diverged set) when a loss is NaN or infinite."""
        n = self._filled
        if not n:
            return []
        values = self._buffer[:n].double().cpu().numpy()
        steps = np.arange(self.step - n + 1, self.step + 1)
        secs = np.linspace(self._flushed_at, self.seconds, n + 1)[1:]  # spread over the interval
        self._filled, self._flushed_at = 0, self.seconds
        bad = ~np.isfinite(values).all(1)
        end = int(bad.argmax()) if bad.any() else n
        events: list = [LossPoints(steps[:end], secs[:end],
                                   {k: values[:end, i] for i, k in enumerate(self.loss_names)})]
        if end < n:
            self.diverged = True
            events.append(Diverged(int(steps[end]), float(secs[end]), dict(zip(self.loss_names, values[end].tolist()))))
        return events

    @staticmethod
    def _timed(report) -> Iterator:
        """Yield report()'s event; return the seconds it took, the consumer's handling included."""
        began = time.perf_counter()
        yield report()
        return time.perf_counter() - began

    def _paused(self) -> Iterator:
        """Wait while paused, doing the single steps asked for meanwhile (with their events)."""
        yield from self._flush()
        try:
            self.idle = True
            while not self._running.wait(0.02):
                if self.diverged:
                    return
                parts, wanted = self._apply_commands()
                if wanted:
                    yield from self._flush()
                    if not self.diverged:
                        for report in wanted:
                            yield self._report(report)
                for part in parts:
                    self.idle = False
                    began = time.perf_counter()
                    self._record(self.model.partial_step(part, self.draw))
                    self.seconds += time.perf_counter() - began
                    yield from self._flush()
                    if not self.diverged and self.cadence.snapshot_s:
                        yield self.snapshot()
                    self.idle = True
        finally:
            self.idle = False

    # the loop ------------------------------------------------------------------------------
    def run(self, steps: int | None = None, seconds: float | None = None) -> Iterator:
        """Train until the step or time budget (the experiment's unless given) or stop(); yield events."""
        steps = steps if steps is not None else self.exp.steps
        seconds = seconds if seconds is not None else self.exp.seconds
        if steps is None and seconds is None:
            steps = 1000
        cad = self.cadence
        last_step = self.step + steps if steps is not None else None
        deadline = self.seconds + seconds if seconds is not None else math.inf
        t0 = time.perf_counter() - self.seconds
        next_loss = self.seconds + cad.loss_s
        if not cad.snapshot_s:
            next_snap = math.inf
        else:
            next_snap = self.seconds + (min(cad.first_snapshot_s, cad.snapshot_s) if self.step == 0 else cad.snapshot_s)
        next_eval = self.seconds + cad.eval_s if cad.eval_s else math.inf
        next_held_out = self.seconds + cad.held_out_s if self._held_out_items is not None else math.inf
        reason = "stopped"
        while not self._stop.is_set() and not self.diverged:
            if not self._running.is_set():
                yield from self._paused()
                t0 = time.perf_counter() - self.seconds  # paused time is not training time
                continue
            if last_step is not None and self.step >= last_step:
                reason = "steps"
                break
            if self.seconds >= deadline:
                reason = "seconds"
                break
            if not self._commands.empty():
                _, wanted = self._apply_commands()  # single steps asked for while running are moot
                if wanted:
                    yield from self._flush()
                    if self.diverged:
                        return
                    for report in wanted:
                        t0 += yield from self._timed(lambda report=report: self._report(report))
            self._record(self.model.train_step(self.draw))
            self.seconds = time.perf_counter() - t0
            if self.seconds >= next_loss or self._filled == LOSS_BUFFER:
                next_loss = self.seconds + cad.loss_s
                yield from self._flush()
                if self.diverged:
                    return
            # Time spent drawing snapshots, measuring and evaluating is not training time. Where they
            # are slow (a diffusion model's sampling steps), they are spaced out to take at most about
            # a quarter of the wall time together, so training still moves.
            snapped = self.seconds >= next_snap
            if snapped:
                cost = yield from self._timed(self.snapshot)
                t0 += cost
                next_snap = self.seconds + max(cad.snapshot_s, SLOW_REPORT_FACTOR * cost)
            # with snapshots on, measured right after one: the best step is then a timeline step, and
            # its state is the fork point the snapshot kept
            if self.seconds >= next_held_out and (snapped or not cad.snapshot_s):
                cost = yield from self._timed(self.measure_held_out)
                t0 += cost
                next_held_out = self.seconds + max(cad.held_out_s, HELD_OUT_FACTOR * cost)
            if self.seconds >= next_eval:
                cost = yield from self._timed(self.evaluate)
                t0 += cost
                next_eval = self.seconds + max(cad.eval_s, EVALUATION_FACTOR * cost)
        yield from self._flush()
        if self.diverged:
            return
        if cad.snapshot_s:
            yield self.snapshot()
        if self._held_out_items is not None and self._held_out_step != self.step:
            yield self.measure_held_out()
        if cad.evaluate_at_end:
            yield self.evaluate()
        yield Finished(self.step, self.seconds, reason)
