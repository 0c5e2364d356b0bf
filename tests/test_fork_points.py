"""Forking a run from its past: the bounded set of kept states, and a forked run that starts from
exactly the kept weights (and, with the same settings, retraces the original)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from genstudio.config import default_experiment
from genstudio.engine.events import LossPoints
from genstudio.engine.fork_points import ForkPoints, state_bytes
from genstudio.engine.state import TrainerState
from genstudio.engine.trainer import Cadence, Trainer


def fake_state(step: int, seconds: float, floats: int = 1000) -> TrainerState:
    return TrainerState(step, seconds, {"model.w": torch.zeros(floats)}, {})


def test_the_last_minute_is_kept_every_2_s_and_the_past_once_a_minute():
    points = ForkPoints()
    for i in range(1, 1201):                      # a 10-minute run, a snapshot every 0.5 s
        points.add(fake_state(i, i * 0.5))
    seconds = [s.seconds for s in points.states]
    recent = [t for t in seconds if t >= 600 - 60]
    assert 30 <= len(recent) <= 32 and recent == sorted(recent) and recent[-1] == 600
    assert all(b - a >= 2.0 for a, b in zip(recent[:-2], recent[1:-1]))   # every 2 s (and the newest)
    older = [t for t in seconds if t < 540]
    assert len(older) == 9 and len({int(t // 60) for t in older}) == 9
    assert points.nbytes == sum(state_bytes(s) for s in points.states) == len(seconds) * 4000


def test_memory_stays_under_the_cap_and_the_newest_state_stays():
    points = ForkPoints(max_bytes=20 * 4000)
    sizes = []
    for i in range(1, 601):
        points.add(fake_state(i, float(i)))
        sizes.append(points.nbytes)
    assert max(sizes) <= 20 * 4000 and sizes[-1] == sizes[-100]   # flat once the cap is reached
    assert points.states[-1].step == 600
    tiny = ForkPoints(max_bytes=10)
    tiny.add(fake_state(1, 1.0))
    assert tiny.steps() == [1]                                     # even over the cap
    assert points.nearest(10**6).step == 600 and points.nearest(0) is None
    with pytest.raises(KeyError):
        points.at(1)


def vae_run(steps: int, **family):
    exp = default_experiment("vae", "ring8", device="cpu", threads=1, seed=3)
    return replace(exp, steps=steps, family=replace(exp.family, width=32, **family))


def losses(events) -> list[float]:
    out = []
    for event in events:
        if isinstance(event, LossPoints):
            out += list(event.values["loss"])
    return out


def test_a_forked_run_starts_from_the_kept_weights_and_retraces_the_original():
    exp = vae_run(400)
    original = Trainer(exp, Cadence(snapshot_s=1e-4, fork_points=True, evaluate_at_end=False))
    original.fork_points = ForkPoints(recent_spacing_s=0.0)  # every snapshot (they come every few steps here)
    original_losses = losses(original.run())
    points = original.fork_points
    assert len(points.states) >= 3   # (the snapshots that fit the VAE's prior slow the next few)
    kept = points.nearest(200)
    assert 0 < kept.step <= 200

    fork = Trainer.forked(exp, kept, Cadence(snapshot_s=None, evaluate_at_end=False))
    for name, value in fork.model.state_dict().items():
        assert torch.equal(value, kept.tensors[f"model.{name}"]), name
    assert fork.step == kept.step
    fork_losses = losses(fork.run(steps=400 - kept.step))
    assert fork_losses == original_losses[kept.step:]               # the same future, step for step
    # the same weights; the VAE's fitted prior is fitted when samples are asked for, which the fork was not
    trained = {k: v for k, v in original.model.state_dict().items() if not k.startswith("prior.")}
    assert trained and all(torch.equal(v, fork.model.state_dict()[k]) for k, v in trained.items())


def test_a_fork_with_another_learning_rate_trains_with_it():
    exp = vae_run(100)
    original = Trainer(exp, Cadence(snapshot_s=1e-4, fork_points=True, evaluate_at_end=False))
    list(original.run())
    kept = original.fork_points.states[-1]
    changed = replace(exp, family=replace(exp.family, lr=exp.family.lr / 10, beta=2.0))
    fork = Trainer.forked(changed, kept, Cadence(snapshot_s=None, evaluate_at_end=False))
    assert all(g["lr"] == changed.family.lr for opt in fork.model.optimizers() for g in opt.param_groups)
    assert fork.model.cfg.beta == 2.0
    assert losses(fork.run(steps=20)) != losses(Trainer.forked(exp, kept, Cadence(snapshot_s=None)).run(steps=20))[:20]


def test_two_runs_with_the_same_seed_and_settings_give_identical_curves():
    exp = vae_run(150)
    first = losses(Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False)).run())
    second = losses(Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False)).run())
    assert len(first) == 150 and first == second


def test_an_experiment_file_keeps_the_fork_points_and_a_reopened_run_forks_from_them(tmp_path):
    from genstudio.engine import experiment_file as ef
    from genstudio.engine.events import Checkpoint

    exp = vae_run(120)
    original = Trainer(exp, Cadence(snapshot_s=1e-4, fork_points=True, evaluate_at_end=False))
    original.fork_points = ForkPoints(recent_spacing_s=0.0)
    original.snapshot()                  # a state at step 0, without optimiser moments yet (as the window keeps)
    list(original.run())
    checkpoint = original._report("checkpoint")
    assert isinstance(checkpoint, Checkpoint) and len(checkpoint.fork_points) == len(original.fork_points.states) > 5
    path = str(tmp_path / "run.genstudio")
    ef.save(path, ef.ExperimentFile(exp, checkpoint.state, fork_points=checkpoint.fork_points))
    doc = ef.load(path)
    assert [s.step for s in doc.fork_points] == original.fork_points.steps()
    for saved, kept in zip(doc.fork_points, original.fork_points.states):
        assert saved.seconds == kept.seconds and json.dumps(saved.meta) == json.dumps(kept.meta)  # tuples as lists
        assert all(torch.equal(saved.tensors[k], v) for k, v in kept.tensors.items())

    reopened = Trainer(exp, Cadence(snapshot_s=None, fork_points=True), state=doc.state, fork_points=doc.fork_points)
    steps = reopened.fork_points.steps()    # the file's states, under the window's policy (every 2 s)
    assert steps[0] == 0 and steps[-1] == 120 and set(steps) <= set(original.fork_points.steps())
    early = original.fork_points.at(steps[0])
    ahead = losses(Trainer.forked(exp, reopened.fork_points.at(steps[0]), Cadence(snapshot_s=None)).run(steps=10))
    again = losses(Trainer.forked(exp, early, Cadence(snapshot_s=None)).run(steps=10))
    assert len(ahead) == 10 and ahead == again


def test_a_file_whose_kept_state_does_not_match_the_run_is_refused(tmp_path):
    from genstudio.engine import experiment_file as ef

    exp = vae_run(5)
    trainer = Trainer(exp, Cadence(snapshot_s=None))
    list(trainer.run())
    state = trainer.state()
    odd = TrainerState(3, 0.1, {"model.w": torch.zeros(3)}, {})
    path = str(tmp_path / "odd.genstudio")
    ef.save(path, ef.ExperimentFile(exp, state, fork_points=(odd,)))
    with pytest.raises(ef.ExperimentFileError,
                       match="odd.genstudio: the kept state at step 3 does not match the run's weights"):
        ef.load(path)


def test_the_best_state_stays_whatever_the_policy_drops():
    points = ForkPoints(max_bytes=5 * 4000)
    points.add(fake_state(1, 0.5))
    points.best = points.states[0]
    for i in range(2, 300):
        points.add(fake_state(i, i * 0.5))
    assert 1 not in [s.step for s in points.states]          # the policy let it go...
    assert points.steps()[0] == 1 and points.at(1) is points.best   # ...the best stays, forkable
    assert points.nearest(1) is points.best and points.nearest(2) is points.best
    assert [s.step for s in points.all()] == sorted(s.step for s in points.all())
    assert len(points.all()) == len(points.states) + 1
