"""The training generator: budgets, reproducibility, and commands from another thread."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch

from genstudio.config import FAMILIES
from genstudio.engine.events import Diverged, Finished, HeldOut, LossPoints, Metrics, Snapshot
from genstudio.engine.trainer import Cadence, Trainer

QUIET = Cadence(snapshot_s=None, evaluate_at_end=False)
DATA = {"gan": "ring8", "vae": "ring8", "diffusion": "moons", "ar": "ring8"}


def _losses(trainer, steps):
    events = list(trainer.run(steps=steps))
    assert isinstance(events[-1], Finished)
    points = [e for e in events if isinstance(e, LossPoints)]
    return np.stack([np.concatenate([p.values[k] for p in points]) for k in trainer.loss_names])


@pytest.mark.parametrize("model", FAMILIES)
def test_same_seed_same_losses(make_experiment, model):
    exp = make_experiment(model, DATA[model], seed=3)
    a = _losses(Trainer(exp, QUIET), 30)
    b = _losses(Trainer(exp, QUIET), 30)
    assert a.shape == (len(Trainer(exp, QUIET).loss_names), 30)
    assert np.array_equal(a, b)
    c = _losses(Trainer(make_experiment(model, DATA[model], seed=4), QUIET), 30)
    assert not np.array_equal(a, c)


def test_same_seed_same_snapshots(make_experiment):
    exp = make_experiment("diffusion", "moons", seed=1)
    snaps = []
    for _ in range(2):
        trainer = Trainer(exp, QUIET)
        list(trainer.run(steps=20))
        snaps.append(trainer.snapshot().samples)
    assert np.array_equal(snaps[0], snaps[1])


def test_snapshots_do_not_disturb_training(make_experiment):
    """Drawing a snapshot between steps leaves the training random stream as it was."""
    exp = make_experiment("vae", "ring8", seed=2)
    plain = _losses(Trainer(exp, QUIET), 40)
    # snapshots as often as the trainer allows (it spaces them out when they are slow against a step,
    # and how slow depends on the machine's load: count a few, not one per step)
    busy = Trainer(exp, Cadence(snapshot_s=1e-9, evaluate_at_end=False))
    events = list(busy.run(steps=40))
    assert sum(isinstance(e, Snapshot) for e in events) >= 5
    points = [e for e in events if isinstance(e, LossPoints)]
    assert np.array_equal(plain, np.stack([np.concatenate([p.values[k] for p in points]) for k in busy.loss_names]))


def test_step_budget_is_exact_and_contiguous(make_experiment, losses_of):
    trainer = Trainer(make_experiment("gan", "ring8"), Cadence(loss_s=0.0, snapshot_s=None, evaluate_at_end=False))
    events = list(trainer.run(steps=57))
    steps = losses_of(events)["step"]
    assert sum(isinstance(e, LossPoints) for e in events) > 1  # reported in several pieces
    assert np.array_equal(steps, np.arange(1, 58))
    assert events[-1] == Finished(57, events[-1].seconds, "steps") and trainer.step == 57
    # a second run continues the numbering
    more = losses_of(list(trainer.run(steps=5)))["step"]
    assert np.array_equal(more, np.arange(58, 63))
    assert trainer.step == 62


def test_experiment_steps_is_the_default_budget(make_experiment, losses_of):
    trainer = Trainer(make_experiment("vae", "ring8", steps=33), QUIET)
    events = list(trainer.run())
    assert np.array_equal(losses_of(events)["step"], np.arange(1, 34))
    assert events[-1].reason == "steps"


def test_loss_points_are_batched_in_time(make_experiment):
    trainer = Trainer(make_experiment("vae", "ring8"), Cadence(loss_s=10.0, snapshot_s=None, evaluate_at_end=False))
    events = list(trainer.run(steps=50))
    points = [e for e in events if isinstance(e, LossPoints)]
    assert len(points) == 1 and len(points[0].steps) == 50
    assert np.all(np.diff(points[0].seconds) >= 0)


def test_seconds_budget_stops_near_the_time(make_experiment):
    trainer = Trainer(make_experiment("vae", "ring8", steps=None, seconds=0.4), QUIET)
    began = time.perf_counter()
    events = list(trainer.run())
    wall = time.perf_counter() - began
    end = events[-1]
    assert end.reason == "seconds"
    assert 0.4 <= end.seconds < 1.5
    assert wall < 3.0
    assert trainer.step > 1


def test_end_of_run_snapshot_and_metrics(make_experiment):
    trainer = Trainer(make_experiment("vae", "ring8"), Cadence(snapshot_s=60.0, evaluate_at_end=True))
    events = list(trainer.run(steps=10))
    kinds = [type(e) for e in events]
    assert kinds[-4:] == [Snapshot, HeldOut, Metrics, Finished]
    snap, held_out, metrics = events[-4:-1]
    assert snap.step == held_out.step == 10 and snap.samples.shape == (64, 2)
    assert {"hq_fraction", "modes_captured", "energy_distance", "nll_nats"} <= set(metrics.values)


def _start(trainer, **run):
    """Run the trainer in a thread; return (thread, events list filled as it runs)."""
    events: list = []
    thread = threading.Thread(target=lambda: events.extend(trainer.run(**run)), daemon=True)
    thread.start()
    return thread, events


def _wait_for(condition, timeout=10.0):
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        time.sleep(0.005)


def _settled(trainer, quiet=0.2, timeout=10.0):
    """The step count once it has not changed for `quiet` seconds."""
    began = last_change = time.perf_counter()
    last = trainer.step
    while time.perf_counter() - last_change < quiet:
        assert time.perf_counter() - began < timeout, "the trainer kept stepping"
        time.sleep(0.01)
        if trainer.step != last:
            last, last_change = trainer.step, time.perf_counter()
    return last


def test_stop_from_another_thread(make_experiment, losses_of):
    trainer = Trainer(make_experiment("vae", "ring8"), QUIET)
    thread, events = _start(trainer, steps=10**7)
    _wait_for(lambda: trainer.step >= 5)
    trainer.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert events[-1].reason == "stopped"
    assert events[-1].step == trainer.step < 10**7
    assert np.array_equal(losses_of(events)["step"], np.arange(1, trainer.step + 1))


def test_pause_and_resume(make_experiment, losses_of):
    trainer = Trainer(make_experiment("vae", "ring8"), QUIET)
    began = time.perf_counter()
    thread, events = _start(trainer, steps=10**7)
    _wait_for(lambda: trainer.step >= 5)
    trainer.pause()
    at_pause = trainer.step
    assert trainer.paused
    held = _settled(trainer)            # times out if steps never stop
    assert held <= at_pause + 1         # only the step in progress finishes
    time.sleep(0.3)
    assert trainer.step == held         # no step while paused
    # pausing flushes what was buffered: every step so far has been reported
    assert losses_of(events)["step"][-1] == held
    trainer.resume()
    _wait_for(lambda: trainer.step >= held + 5)
    assert not trainer.paused
    trainer.stop()
    thread.join(5)
    wall = time.perf_counter() - began
    assert not thread.is_alive()
    assert events[-1].reason == "stopped"
    assert np.array_equal(losses_of(events)["step"], np.arange(1, trainer.step + 1))
    # the 0.4 s paused are not training time
    assert events[-1].seconds < wall - 0.3


def test_stop_while_paused(make_experiment):
    trainer = Trainer(make_experiment("vae", "ring8"), QUIET)
    thread, events = _start(trainer, steps=10**7)
    _wait_for(lambda: trainer.step >= 3)
    trainer.pause()
    time.sleep(0.1)
    trainer.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert events[-1].reason == "stopped"


@pytest.mark.parametrize("model", ["gan", "vae"])
def test_set_lr_between_steps(make_experiment, model):
    trainer = Trainer(make_experiment(model, "ring8", lr=1e-3), QUIET)
    list(trainer.run(steps=3))
    trainer.set_lr(2.5e-4)
    groups = [g for opt in trainer.model.optimizers() for g in opt.param_groups]
    assert all(g["lr"] == 1e-3 for g in groups)  # queued, not applied mid-step
    list(trainer.run(steps=1))
    assert all(g["lr"] == 2.5e-4 for g in groups)


def test_set_lr_from_another_thread(make_experiment):
    trainer = Trainer(make_experiment("vae", "ring8", lr=1e-3), QUIET)
    thread, _ = _start(trainer, steps=10**7)
    _wait_for(lambda: trainer.step >= 3)
    trainer.set_lr(1e-4)
    at = trainer.step
    _wait_for(lambda: trainer.step >= at + 3)
    trainer.stop()
    thread.join(5)
    assert trainer.model.optimizers()[0].param_groups[0]["lr"] == 1e-4


def test_divergence_stops_before_the_bad_step(make_experiment, monkeypatch, losses_of):
    trainer = Trainer(make_experiment("vae", "ring8"), Cadence(snapshot_s=None, evaluate_at_end=True))
    real_step = trainer.model.train_step
    calls = []

    def step(draw):
        calls.append(1)
        losses = real_step(draw)
        return losses * float("nan") if len(calls) == 25 else losses

    monkeypatch.setattr(trainer.model, "train_step", step)
    events = list(trainer.run(steps=100))
    assert isinstance(events[-1], Diverged)
    assert events[-1].step == 25
    assert all(np.isnan(v) for v in events[-1].losses.values())
    assert not any(isinstance(e, (Finished, Metrics)) for e in events)
    assert np.array_equal(losses_of(events)["step"], np.arange(1, 25))


def test_unavailable_device_is_a_config_error(make_experiment):
    from dataclasses import replace

    from genstudio.config import ConfigError

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="cuda"):
        Trainer(replace(make_experiment("vae", "ring8"), device="cuda"))


def test_threads_follow_the_experiment(make_experiment):
    from dataclasses import replace

    exp = make_experiment("vae", "ring8")
    try:
        Trainer(replace(exp, threads=2), QUIET)
        assert torch.get_num_threads() == 2
        Trainer(exp, QUIET)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(1)


def test_classifier_cache_is_private(make_experiment, genstudio_cache):
    Trainer(make_experiment("vae", "digits"), QUIET)  # builds the evaluator, which needs the classifier
    assert any(name.startswith("classifier-digits") for name in os.listdir(genstudio_cache))


@pytest.mark.parametrize("part", ["all", "d", "g"])
def test_single_steps_while_paused(make_experiment, part):
    """Step, D-only and G-only steps advance exactly one step each and change only that network."""
    exp = make_experiment("gan", "ring8", steps=None, seconds=60.0)
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    model = trainer.model
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    trainer.pause()
    events = trainer.run()
    trainer.step_once(part)
    trainer.step_once(part)
    seen = []
    for ev in events:
        if isinstance(ev, LossPoints):
            seen.extend(ev.steps.tolist())
        if len(seen) == 2:
            trainer.stop()
    assert seen == [1, 2] and trainer.step == 2

    def changed(before, module):
        return any(not torch.equal(b, p) for b, p in zip(before, module.parameters()))

    assert changed(d_before, model.discriminator) == (part in ("all", "d"))
    assert changed(g_before, model.generator) == (part in ("all", "g"))


def test_live_hyperparameter_and_weights_on_request(make_experiment):
    """set_hparam changes what the model reads each step; request_weights gives the explorer's
    networks as CPU copies at the next step boundary, running or paused, and never otherwise."""
    from genstudio.engine.events import Weights

    exp = make_experiment("vae", "ring8", steps=None)
    trainer = Trainer(exp, QUIET)
    assert not any(isinstance(e, Weights) for e in trainer.run(steps=5))
    at_step_5 = {k: v.clone() for k, v in trainer.model.explorer_state().items()}
    trainer.set_hparam("beta", 3.0)
    trainer.request_weights()
    weights = [e for e in trainer.run(steps=1) if isinstance(e, Weights)]
    assert trainer.model.cfg.beta == 3.0 and trainer.exp.family.beta == 3.0
    assert len(weights) == 1 and weights[0].step == 5
    assert set(weights[0].state) == set(at_step_5)
    assert all(np.array_equal(weights[0].state[k], v.numpy()) for k, v in at_step_5.items())
    trainer.pause()
    trainer.request_weights()
    done = threading.Event()
    events = []

    def run():
        for e in trainer.run(steps=100):
            events.append(e)
            if isinstance(e, Weights):
                done.set()
    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(30)  # answered while paused
    trainer.stop()
    thread.join(30)
    assert [e.step for e in events if isinstance(e, Weights)] == [6]


def test_evaluation_scores_without_dropout_and_training_goes_on_with_it(make_experiment):
    """The held-out NLL is the model's own (dropout off), and the model trains on with dropout after."""
    trainer = Trainer(make_experiment("ar", "names", dropout=0.5), QUIET)
    list(trainer.run(steps=5))
    reported = trainer.evaluate().values["nats_per_char"]
    assert trainer.model.training
    model = trainer.model.eval()
    seq = model.encode_data(trainer.dataset, "held_out")
    want = float(model.nll(seq).sum()) / int((seq[:, 1:] >= 0).sum())
    assert abs(reported - want) < 1e-4
