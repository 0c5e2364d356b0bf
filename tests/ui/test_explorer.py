"""The explorer: a weights-only replica answering requests in its own thread (no Qt involved)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from genstudio import data
from genstudio.engine.events import Weights
from genstudio.engine.explorer import (
    Decode,
    DecodeGrid,
    EncodeHeldOut,
    ExplorerError,
    Interpolate,
    Replica,
    interpolation_codes,
)
from genstudio.engine.trainer import Cadence, Trainer
from genstudio.live.explorer import Explorer


@pytest.fixture
def vae_run(make_experiment):
    exp = make_experiment("vae", "digits", steps=None, latent_dim=2)
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    list(trainer.run(steps=30))
    trainer.request_weights()
    weights = [e for e in trainer.run(steps=1) if isinstance(e, Weights)]
    assert len(weights) == 1 and weights[0].step == 30  # taken at the step boundary, before step 31
    return trainer, weights[0]


def test_the_replica_has_no_optimiser_and_decodes_as_the_model_does(vae_run):
    trainer, weights = vae_run
    replica = Replica(trainer.exp, trainer.dataset)
    assert replica.model.optimizers() == []
    with pytest.raises(ExplorerError, match="waiting"):
        list(replica.answer(Decode("code", codes=np.zeros((1, 2), np.float32))))
    replica.load(weights)
    codes = np.array([[0.5, -1.0], [2.0, 0.3]], np.float32)
    [answer] = list(replica.answer(Decode("code", codes=codes)))
    trained = Trainer(trainer.exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    trained.model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.state.items()})
    with torch.no_grad():   # (a conditional VAE: the request's class, 0 unless it names one)
        expected = trained.model.decode_mean(torch.from_numpy(codes), torch.zeros(2, dtype=torch.long)).numpy()
    np.testing.assert_allclose(answer.values["decoded"], expected, rtol=1e-5, atol=1e-6)
    assert answer.step == 30
    [answer] = list(replica.answer(Decode("code", codes=codes, label=6)))
    with torch.no_grad():
        expected = trained.model.decode_mean(torch.from_numpy(codes), torch.full((2,), 6)).numpy()
    np.testing.assert_allclose(answer.values["decoded"], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ExplorerError, match="class 10"):
        list(replica.answer(Decode("code", codes=codes, label=10)))


def test_the_map_is_the_encoder_means_of_the_held_out_set(vae_run):
    trainer, weights = vae_run
    replica = Replica(trainer.exp, trainer.dataset)
    replica.load(weights)
    [answer] = list(replica.answer(EncodeHeldOut("map")))
    with torch.no_grad():   # each held-out example with its own class
        mu, _ = replica.model.encode(replica.model.encode_data(trainer.dataset, "held_out"),
                                     torch.from_numpy(trainer.dataset.held_out_labels))
    values = answer.values
    np.testing.assert_allclose(values["means"], mu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values["map"], values["means"])  # a 2-d latent is its own map
    assert values["kl_per_dim"].shape == (2,) and (values["kl_per_dim"] >= 0).all()
    assert values["recon"].shape == values["inputs"].shape == (8, 1, 8, 8)
    np.testing.assert_array_equal(values["labels"], trainer.dataset.held_out_labels)


def test_a_larger_latent_is_mapped_by_pca(make_experiment):
    exp = make_experiment("vae", "digits", latent_dim=6)
    replica = Replica(exp, data.load("digits"))
    replica.load(Weights(0, 0.0, {k: v.numpy() for k, v in replica.model.explorer_state().items()}))
    [answer] = list(replica.answer(EncodeHeldOut("map")))
    v = answer.values
    assert v["pca"] and v["axes"].shape == (2, 6)
    np.testing.assert_allclose(v["axes"] @ v["axes"].T, np.eye(2), atol=1e-5)  # orthonormal directions
    np.testing.assert_allclose(v["map"], (v["means"] - v["origin"]) @ v["axes"].T, rtol=1e-5, atol=1e-5)


def test_interpolation_ends_at_its_codes():
    a, b = np.array([1.0, 0.0, 2.0], np.float32), np.array([-0.5, 3.0, 0.0], np.float32)
    for spherical in (False, True):
        codes = interpolation_codes(a, b, 8, spherical)
        np.testing.assert_allclose(codes[0], a, atol=1e-6)
        np.testing.assert_allclose(codes[-1], b, atol=1e-6)
    norms = np.linalg.norm(interpolation_codes(a, b, 9, True), axis=1)
    np.testing.assert_allclose(norms, np.linspace(np.linalg.norm(a), np.linalg.norm(b), 9), rtol=1e-5)


def test_nan_weights_give_a_message_not_a_traceback(vae_run):
    trainer, weights = vae_run
    replica = Replica(trainer.exp, trainer.dataset)
    replica.load(Weights(5, 0.0, {k: v * np.nan for k, v in weights.state.items()}))
    with pytest.raises(ExplorerError, match="not finite"):
        list(replica.answer(Decode("code", codes=np.zeros((1, 2), np.float32))))


def _two_steps(exp):
    """(trainer, the weights it sends an explorer) after two training steps of `exp`."""
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    trainer.request_weights()
    [weights] = [e for e in trainer.run(steps=2) if isinstance(e, Weights)]
    return trainer, weights


def _collect(explorer_answers, condition, timeout=30.0):
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, f"no answer in time: {explorer_answers}"
        time.sleep(0.005)


def _held_after_first_answer():
    """(answers, first, go_on, post): `post` collects answers and holds the explorer thread on its
    first answer (`first` is set) until `go_on` is set."""
    answers, first, go_on = [], threading.Event(), threading.Event()

    def post(answer):
        answers.append(answer)
        if not first.is_set():
            first.set()
            go_on.wait(10)

    return answers, first, go_on, post


def test_a_newer_request_cuts_a_long_one_short_and_stale_answers_are_known(vae_run):
    trainer, weights = vae_run
    answers, first_chunk, go_on, post = _held_after_first_answer()  # until the newer request is in
    explorer = Explorer(trainer.exp, trainer.dataset, post)
    try:
        explorer.set_weights(weights)
        grid = dict(origin=np.zeros(2, np.float32), axes=np.eye(2, dtype=np.float32))
        old = explorer.submit(DecodeGrid("manifold", rows=200, cols=20, **grid))
        assert first_chunk.wait(30)
        new = explorer.submit(DecodeGrid("manifold", rows=3, cols=3, **grid))
        go_on.set()
        _collect(answers, lambda: any(a.request.id == new.id and a.done for a in answers))
        old_chunks = [a for a in answers if a.request.id == old.id]
        assert 1 <= len(old_chunks) < 200 and not any(a.done for a in old_chunks)
        assert [a.values["row"] for a in answers if a.request.id == new.id] == [0, 1, 2]
        assert not explorer.is_current(old_chunks[0]) and explorer.is_current(answers[-1])
    finally:
        explorer.stop()
        assert explorer.join(10)


def test_a_waiting_decode_goes_before_waiting_grids_and_maps(vae_run):
    """While the explorer is busy, a map, a grid and then a click's decode queue up: the decode
    (what a hand waits on) is answered first, the map (the costliest) last."""
    trainer, weights = vae_run
    answers, busy, go_on, post = _held_after_first_answer()  # while the others queue
    explorer = Explorer(trainer.exp, trainer.dataset, post)
    try:
        explorer.set_weights(weights)
        grid = dict(origin=np.zeros(2, np.float32), axes=np.eye(2, dtype=np.float32))
        explorer.submit(Decode("warm-up", codes=np.zeros((1, 2), np.float32)))
        assert busy.wait(30)
        explorer.submit(EncodeHeldOut("map"))
        explorer.submit(DecodeGrid("manifold", rows=2, cols=2, **grid))
        explorer.submit(Decode("code", codes=np.ones((1, 2), np.float32)))
        go_on.set()
        _collect(answers, lambda: {"map", "manifold", "code"} <= {a.request.control for a in answers if a.done})
        order = [a.request.control for a in answers if a.done]
        assert order == ["warm-up", "code", "manifold", "map"]
    finally:
        explorer.stop()
        assert explorer.join(10)


def test_an_explorer_error_is_reported_and_the_next_request_works(vae_run, monkeypatch):
    trainer, weights = vae_run
    answers = []
    real = Replica.answer
    calls = {"n": 0}

    def flaky(self, request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated failure")
        return real(self, request)

    monkeypatch.setattr(Replica, "answer", flaky)
    explorer = Explorer(trainer.exp, trainer.dataset, answers.append)
    try:
        explorer.set_weights(weights)
        explorer.submit(Decode("code", codes=np.zeros((1, 2), np.float32)))
        _collect(answers, lambda: len(answers) >= 1)
        assert answers[0].error == "RuntimeError: simulated failure"
        explorer.submit(Decode("code", codes=np.zeros((1, 2), np.float32)))
        _collect(answers, lambda: len(answers) >= 2)
        assert answers[1].error is None and answers[1].values["decoded"].shape == (1, 1, 8, 8)
    finally:
        explorer.stop()
        assert explorer.join(10)


def test_interpolate_request_decodes_the_walk(vae_run):
    trainer, weights = vae_run
    replica = Replica(trainer.exp, trainer.dataset)
    replica.load(weights)
    a, b = np.array([-1.0, 0.5], np.float32), np.array([1.5, 1.0], np.float32)
    [walk] = list(replica.answer(Interpolate("interpolation", a=a, b=b, steps=8)))
    [ends] = list(replica.answer(Decode("code", codes=np.stack([a, b]))))
    np.testing.assert_allclose(walk.values["decoded"][[0, -1]], ends.values["decoded"], rtol=1e-5, atol=1e-6)


def test_a_cheap_request_is_answered_between_the_chunks_of_a_long_one(make_experiment):
    """A click (Forward, priority 0) submitted while a whole trajectory (Denoise, chunked) is being
    computed is answered before the trajectory ends, with the same weights."""
    from genstudio.engine.explorer import Denoise, Forward

    exp = make_experiment("diffusion", "digits", steps=None, timesteps=400, sample_steps=400)
    trainer, weights = _two_steps(exp)
    answers = []
    first_chunk = threading.Event()

    def post(answer):
        answers.append(answer)
        first_chunk.set()

    explorer = Explorer(exp, trainer.dataset, post)
    try:
        explorer.set_weights(weights)
        explorer.submit(Denoise("denoise", sampler="ddim", steps=400, count=64))
        assert first_chunk.wait(60)
        explorer.submit(Forward("forward", t=10))
        deadline = time.time() + 60
        while not any(a.done and a.request.control == "denoise" for a in answers) and time.time() < deadline:
            time.sleep(0.01)
    finally:
        explorer.stop()
        explorer.join(5)
    controls = [a.request.control for a in answers]
    assert "forward" in controls and controls[-1] == "denoise" and answers[-1].done
    assert controls.index("forward") < len(controls) - 1
    assert {a.step for a in answers} == {weights.step}


def test_a_class_picked_is_written_between_the_pauses_of_the_token_loss(make_experiment, monkeypatch):
    """The token loss (costlier than writing) pauses every few sequences: a batch of a class picked
    while it runs is written before the loss ends, and the loss is the one the whole batch gives."""
    from genstudio.engine.explorer import Generate, TokenLoss

    exp = make_experiment("ar", "digits", steps=None)
    trainer, weights = _two_steps(exp)
    paused, go_on = threading.Event(), threading.Event()
    real = Replica._TokenLoss

    def held_at_first_pause(self, request):
        for chunk in real(self, request):
            yield chunk
            if chunk[0] is None and not paused.is_set():
                paused.set()
                go_on.wait(30)

    monkeypatch.setattr(Replica, "_TokenLoss", held_at_first_pause)
    answers = []
    explorer = Explorer(exp, trainer.dataset, answers.append)
    try:
        explorer.set_weights(weights)
        explorer.submit(TokenLoss("loss", count=64))
        assert paused.wait(60)
        explorer.submit(Generate("generate", count=4, label=3))
        go_on.set()
        _collect(answers, lambda: any(a.done and a.request.control == "loss" for a in answers), 60)
    finally:
        explorer.stop()
        explorer.join(10)
    done = [a for a in answers if a.done]
    assert [a.request.control for a in done] == ["generate", "loss"]
    assert (done[0].values["labels"] == 3).all()
    replica = Replica(exp, trainer.dataset)
    replica.load(weights)
    answer = list(replica.answer(TokenLoss("loss", count=64)))[-1]
    (seq, labels), _ = replica._loss_batches[64]
    whole = float(replica.model.nll(seq, labels).sum()) / int((seq[:, 1:] >= 0).sum())
    assert answer.values["train"] == pytest.approx(whole, rel=1e-5)
    assert done[1].values["train"] == pytest.approx(whole, rel=1e-5)


def test_a_newer_trajectory_cuts_a_running_one_short_between_its_steps(make_experiment, monkeypatch):
    """A trajectory pauses after every denoising step, not only where it sends frames: a newer
    request for the same control starts after at most one more step of the old one."""
    from genstudio.engine.explorer import Denoise

    exp = make_experiment("diffusion", "digits", steps=None, timesteps=400, sample_steps=400)
    trainer, weights = _two_steps(exp)
    paused, go_on, steps_after = threading.Event(), threading.Event(), []
    real = Replica._Denoise

    def counted(self, request):
        for chunk in real(self, request):
            yield chunk
            if request.steps == 400 and paused.is_set():
                steps_after.append(chunk)
            if request.steps == 400 and chunk[0] is None and not paused.is_set():
                paused.set()
                go_on.wait(30)

    monkeypatch.setattr(Replica, "_Denoise", counted)
    answers = []
    explorer = Explorer(exp, trainer.dataset, answers.append)
    try:
        explorer.set_weights(weights)
        old = explorer.submit(Denoise("denoise", sampler="ddim", steps=400, count=4))
        assert paused.wait(60)
        new = explorer.submit(Denoise("denoise", sampler="ddim", steps=5, count=4))
        go_on.set()
        _collect(answers, lambda: any(a.done and a.request.id == new.id for a in answers), 60)
    finally:
        explorer.stop()
        explorer.join(10)
    assert not any(a.done for a in answers if a.request.id == old.id)
    assert steps_after == []   # cut short at the pause it was held at


def test_a_batch_asked_for_goes_between_the_chunks_of_one_as_costly(make_experiment):
    """A class picked while another batch is being written (the completion page's, of the same cost)
    is written before that one ends, not after it."""
    from genstudio.engine.explorer import Generate

    exp = make_experiment("ar", "digits", steps=None)
    trainer, weights = _two_steps(exp)
    answers, first, go_on, post = _held_after_first_answer()
    explorer = Explorer(exp, trainer.dataset, post)
    try:
        explorer.set_weights(weights)
        explorer.submit(Generate("complete", count=64))
        assert first.wait(60)
        explorer.submit(Generate("generate", count=4, label=3))
        go_on.set()
        _collect(answers, lambda: any(a.done and a.request.control == "complete" for a in answers), 60)
    finally:
        explorer.stop()
        explorer.join(10)
    assert [a.request.control for a in answers if a.done] == ["generate", "complete"]
