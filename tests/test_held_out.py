"""The held-out curve and the best weights: what they measure, which step is best, what the CLI writes."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genstudio.config import default_experiment
from genstudio.engine import experiment_file
from genstudio.engine.events import HeldOut
from genstudio.engine.trainer import Cadence, Trainer


def noise_images(tmp_path, n=30, side=8, seed=0):
    """Random black and white pixels: nothing carries over from one image to another, so a model that
    keeps training learns its 27 training images by heart and its held-out loss turns up."""
    path = tmp_path / "noise.npy"
    np.save(path, ((np.random.default_rng(seed).random((n, side, side)) > 0.5) * 255).astype(np.uint8))
    return str(path)


def overfitting_vae(path, steps=1500):
    exp = default_experiment("vae", path, steps=steps, seed=0, device="cpu", threads=1)
    return replace(exp, family=replace(exp.family, width=256, depth=2, lr=3e-3, batch_size=16))


def test_the_held_out_curve_is_the_evaluators_held_out_loss_at_its_steps(tmp_path):
    """The transformer's measure is deterministic (no sampled noise): on a held-out part smaller than
    the measure's item count it equals the evaluator's nats per character at the same weights."""
    words = [f"{a}{b}{c}" for a in "abcdefg" for b in "aeiou" for c in "lmnrst"][:200]
    (tmp_path / "words.txt").write_text("\n".join(words))
    exp = default_experiment("ar", str(tmp_path / "words.txt"), steps=60, seed=0, device="cpu", threads=1)
    exp = replace(exp, family=replace(exp.family, n_embd=32, n_layer=1, batch_size=16))
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    values = []
    for _ in range(3):
        curve = [e for e in trainer.run(steps=30) if isinstance(e, HeldOut)]
        assert curve[-1].step == trainer.step, "a run ends with a point of the curve"
        evaluated = trainer.evaluate().values["nats_per_char"]
        assert curve[-1].held_out == pytest.approx(evaluated, rel=1e-5)
        values.append(evaluated)
    assert values[-1] < values[0]


def test_the_best_step_is_the_minimum_of_the_curve_and_its_state_is_kept(tmp_path):
    trainer = Trainer(overfitting_vae(noise_images(tmp_path)), Cadence(snapshot_s=0.05, held_out_s=0.05,
                                                                      evaluate_at_end=False, fork_points=True))
    measures = [e for e in trainer.run() if isinstance(e, HeldOut)]
    assert len(measures) >= 5
    for i, m in enumerate(measures):
        lowest = min(measures[:i + 1], key=lambda h: h.held_out)
        assert m.best_step == lowest.step
    best = measures[-1].best_step
    assert best < trainer.step, "this model should have overfitted: its held-out loss turned up"
    assert measures[-1].held_out > min(m.held_out for m in measures) + 1.0
    assert trainer.best_state.step == best
    assert best in trainer.fork_points.steps(), "the best step can be forked from"
    # the training items' measure went on falling after the best step: the gap grew
    after = [m for m in measures if m.step >= best]
    assert after[-1].train < after[0].train
    assert after[-1].held_out - after[-1].train > after[0].held_out - after[0].train


def test_best_weights_are_used_and_put_back(tmp_path):
    trainer = Trainer(overfitting_vae(noise_images(tmp_path)), Cadence(snapshot_s=None, held_out_s=0.05,
                                                                      evaluate_at_end=False))
    list(trainer.run())
    last = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with trainer.best_weights() as step:
        assert step == trainer.best.step < trainer.step
        inside = trainer.model.state_dict()
        for k, v in trainer.best_state.tensors.items():
            if k.startswith("model."):
                assert torch.equal(inside[k[len("model."):]], v)
        assert any(not torch.equal(inside[k], last[k]) for k in last)
    assert all(torch.equal(trainer.model.state_dict()[k], last[k]) for k in last)


def test_the_gans_measure_ranks_no_weights(make_experiment):
    trainer = Trainer(make_experiment("gan", "ring8", steps=40), Cadence(snapshot_s=None, held_out_s=1e-9,
                                                                        evaluate_at_end=False))
    measures = [e for e in trainer.run() if isinstance(e, HeldOut)]
    assert measures and all(m.best_step is None and np.isfinite(m.held_out) for m in measures)
    assert trainer.best_state is None


def test_the_cli_writes_the_best_weights_and_resumes_from_the_last(cli, tmp_path):
    data = noise_images(tmp_path)
    out = tmp_path / "run"
    code, _, err = cli("train", "--model", "vae", "--data", data, "--steps", "1500", "--seed", "0", "--threads", "1",
                       "--set", "width=256", "--set", "depth=2", "--set", "lr=0.003", "--set", "batch_size=16",
                       "--held-out-every", "0.05", "--out", str(out), "--quiet")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    best = summary["best_step"]
    assert 0 < best < summary["steps"] == 1500
    doc = experiment_file.load(str(out / "experiment.genstudio"))
    assert doc.state.step == 1500, "the experiment file keeps the last state"
    kept = {s.step: s for s in doc.fork_points}
    assert best in kept, "and the best one, to fork from"
    weights = load_file(str(out / "model.safetensors"))
    for name, value in weights.items():
        assert torch.equal(value, kept[best].tensors[f"model.{name}"]), name
    assert not all(torch.equal(v, doc.state.tensors[f"model.{k}"]) for k, v in weights.items())
    assert doc.history.held_out[-1].best_step == best
    lowest = min(doc.history.held_out, key=lambda h: h.held_out)
    assert lowest.step == best and summary["best_held_out"] == pytest.approx(lowest.held_out)
    csv = (out / "metrics.csv").read_text().splitlines()
    header = csv[0].split(",")
    assert header[-2:] == ["train_measure", "held_out_measure"]
    filled = [line.split(",") for line in csv[1:] if line.split(",")[-1]]
    assert len(filled) >= 3

    code, _, err = cli("train", "--resume", str(out / "experiment.genstudio"), "--steps", "100",
                       "--out", str(tmp_path / "more"), "--quiet")
    assert code == 0, err
    resumed = experiment_file.load(str(tmp_path / "more" / "experiment.genstudio"))
    assert resumed.state.step == 1600
    assert resumed.history.held_out[:len(doc.history.held_out)] == doc.history.held_out
    # the held-out loss was still rising at 1500: the best stays the old run's
    assert resumed.history.held_out[-1].best_step == best


def test_an_experiment_file_keeps_the_held_out_curve(tmp_path):
    path = noise_images(tmp_path)
    trainer = Trainer(overfitting_vae(path, steps=200), Cadence(snapshot_s=None, held_out_s=0.02,
                                                                evaluate_at_end=False))
    measures = tuple(e for e in trainer.run() if isinstance(e, HeldOut))
    history = experiment_file.History(held_out=measures)
    doc = experiment_file.ExperimentFile(trainer.exp, trainer.state(), history, dataset=trainer.dataset)
    experiment_file.save(str(tmp_path / "a.genstudio"), doc)
    assert experiment_file.load(str(tmp_path / "a.genstudio")).history.held_out == measures
