"""Experiment files: exact resume, round trips, embedded data, bad files, atomic saves, --resume."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from genstudio.engine import experiment_file as ef
from genstudio.engine.events import Metrics, Snapshot
from genstudio.engine.trainer import Cadence, Trainer

QUIET = Cadence(snapshot_s=None, evaluate_at_end=False)
CORPUS = os.path.join(os.path.dirname(__file__), "corpus", "experiments")
PAIRS = [("gan", "ring8"), ("vae", "digits"), ("diffusion", "moons"), ("ar", "names"), ("gan", "digits")]


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model,data", PAIRS)
def test_resume_continues_exactly_where_it_stopped(make_experiment, tmp_path, model, data):
    """Train 15 steps, save, open, train 15 more == 30 steps without a break (weights bit for bit)."""
    exp = make_experiment(model, data, steps=None)
    first = Trainer(exp, QUIET)
    list(first.run(steps=15))
    path = str(tmp_path / "run.genstudio")
    ef.save(path, ef.ExperimentFile(exp, first.state()))

    doc = ef.load(path)
    resumed = Trainer(doc.experiment, QUIET, state=doc.state)
    assert (resumed.step, resumed.seconds) == (first.step, first.seconds)
    assert _same(_weights(resumed), _weights(first))
    list(resumed.run(steps=15))

    straight = Trainer(exp, QUIET)
    list(straight.run(steps=30))
    assert resumed.step == straight.step == 30
    assert _same(_weights(resumed), _weights(straight))
    if model == "gan":  # the weight average kept counting from where it was
        assert resumed.model.ema.updates == straight.model.ema.updates


def test_a_resumed_run_differs_from_a_fresh_one(make_experiment):
    """The check above could pass vacuously if training did nothing: it does not."""
    exp = make_experiment("vae", "digits", steps=None)
    a, b = Trainer(exp, QUIET), Trainer(exp, QUIET)
    list(a.run(steps=10))
    assert not _same(_weights(a), _weights(b))


def test_round_trip_keeps_history_timeline_and_outputs(make_experiment, tmp_path):
    exp = make_experiment("gan", "ring8", steps=None)
    trainer = Trainer(exp, QUIET)
    list(trainer.run(steps=20))
    names = trainer.loss_names
    history = ef.History(np.arange(1, 21), np.linspace(0.01, 0.2, 20),
                         {n: np.random.default_rng(i).normal(size=20) for i, n in enumerate(names)},
                         (Metrics(10, 0.1, {"modes": 3, "hq": 0.5, "class_histogram": [1, 2]}),))
    snaps = (Snapshot(0, 0.0, np.zeros((4, 2), np.float32)), trainer.snapshot())
    path = str(tmp_path / "gan.genstudio")
    ef.save(path, ef.ExperimentFile(exp, trainer.state(), history, snaps))
    doc = ef.load(path)

    assert doc.experiment == exp
    np.testing.assert_array_equal(doc.history.steps, history.steps)
    np.testing.assert_array_equal(doc.history.seconds, history.seconds)
    for n in names:
        np.testing.assert_array_equal(doc.history.values[n], history.values[n])
    assert doc.history.metrics == history.metrics
    assert [s.step for s in doc.timeline] == [0, 20]
    np.testing.assert_array_equal(doc.timeline[1].samples, snaps[1].samples)
    # the opened model draws the same samples from the same noise
    reopened = Trainer(doc.experiment, QUIET, state=doc.state)
    np.testing.assert_array_equal(reopened.snapshot().samples, trainer.snapshot().samples)


def test_image_and_text_timelines_round_trip(make_experiment, tmp_path):
    for model, data in (("vae", "digits"), ("ar", "names")):
        trainer = Trainer(make_experiment(model, data), QUIET)
        snap = trainer.snapshot()
        path = str(tmp_path / f"{model}.genstudio")
        ef.save(path, ef.ExperimentFile(trainer.exp, trainer.state(), timeline=(snap,)))
        back = ef.load(path).timeline[0].samples
        if model == "ar":
            assert back == list(snap.samples)
        else:  # images are kept at 8 bits
            np.testing.assert_allclose(back, snap.samples, atol=0.5 / 255 + 1e-6)


def test_imported_data_travels_inside_the_file(make_experiment, tmp_path):
    """The file opens, and training resumes, after the data file it was trained on is gone."""
    from dataclasses import replace

    from genstudio.config import default_experiment

    data_file = tmp_path / "blobs.csv"
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 0.1, (100, 2)), rng.normal(3, 0.1, (100, 2))])
    data_file.write_text("x,y\n" + "\n".join(f"{a},{b}" for a, b in pts))
    exp = default_experiment("gan", str(data_file), device="cpu", threads=1)
    exp = replace(exp, family=replace(exp.family, width=16))
    trainer = Trainer(exp, QUIET)
    list(trainer.run(steps=5))
    path = str(tmp_path / "blobs.genstudio")
    ef.save(path, ef.ExperimentFile(exp, trainer.state(), dataset=trainer.dataset))
    data_file.unlink()

    doc = ef.load(path)
    assert doc.dataset is not None and doc.dataset.kind == "points"
    np.testing.assert_array_equal(doc.dataset.x, trainer.dataset.x)
    np.testing.assert_array_equal(doc.dataset.held_out, trainer.dataset.held_out)
    resumed = Trainer(doc.experiment, QUIET, dataset=doc.dataset, state=doc.state)
    list(resumed.run(steps=5))
    assert resumed.step == 10


def test_imported_images_embed_exactly(tmp_path):
    from genstudio.config import default_experiment

    rng = np.random.default_rng(1)
    np.save(tmp_path / "imgs.npy", (rng.random((30, 8, 8)) * 255).astype(np.uint8))
    exp = default_experiment("vae", str(tmp_path / "imgs.npy"), device="cpu", threads=1)
    trainer = Trainer(exp, QUIET)
    path = str(tmp_path / "imgs.genstudio")
    ef.save(path, ef.ExperimentFile(exp, trainer.state(), dataset=trainer.dataset))
    ds = ef.load(path).dataset
    assert ds.x.dtype == np.float32 and ds.levels == 256
    np.testing.assert_array_equal(ds.x, trainer.dataset.x)
    np.testing.assert_array_equal(ds.held_out, trainer.dataset.held_out)


# bad files ------------------------------------------------------------------------------------------

BAD = {  # corpus entry -> what the message must say
    "empty.genstudio": "empty",
    "header-only.genstudio": "not a readable",
    "truncated.genstudio": "not a readable",
    "garbled-header.genstudio": "not a readable",
    "plain-safetensors.genstudio": "not a GenStudio experiment",
    "newer-version.genstudio": "newer GenStudio",
    "missing-weights.genstudio": "do not fit",
    "pickle-payload.genstudio": "not a readable",
    "torch-save-payload.genstudio": "not a readable",
    # well-formed, with hostile values
    "negative-step.genstudio": "step: not a whole number",
    "infinite-step.genstudio": "step: not a whole number",
    "text-seed.genstudio": "seed must be a whole number",
    "million-threads.genstudio": "threads must be a whole number from 0 to 256",
    "long-number.genstudio": "not a readable",
    "uneven-history.genstudio": "columns differ in length",
    "text-held-out.genstudio": "a held-out measure is not five numbers",
}


def test_the_corpus_is_complete():
    assert sorted(os.listdir(CORPUS)) == sorted(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_experiment_files_are_refused_without_running_code(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where the pickle payload would create genstudio-pwned.txt
    with pytest.raises(ef.ExperimentFileError) as info:
        ef.load(os.path.join(CORPUS, name))
    message = str(info.value)
    assert "\n" not in message and message.startswith(name + ":")
    assert BAD[name] in message
    assert not os.path.exists("genstudio-pwned.txt")


def test_the_pickle_payload_is_real(tmp_path, monkeypatch):
    """Proof the corpus entry is dangerous: plain pickle loading runs it (and so must never be used)."""
    import pickle

    monkeypatch.chdir(tmp_path)
    with open(os.path.join(CORPUS, "pickle-payload.genstudio"), "rb") as fh:
        pickle.load(fh).close()
    assert os.path.exists("genstudio-pwned.txt")


@pytest.mark.parametrize("name", ["truncated.genstudio", "newer-version.genstudio", "pickle-payload.genstudio"])
def test_cli_resume_refuses_bad_files(cli, tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = cli("train", "--resume", os.path.join(CORPUS, name), "--steps", "5", "--out", str(tmp_path / "o"))
    assert code == 2
    assert stderr.count("\n") == 1 and name in stderr
    assert not (tmp_path / "o").exists() and not os.path.exists("genstudio-pwned.txt")


# the CLI --------------------------------------------------------------------------------------------

def test_cli_resume_continues_a_run(cli, tiny_args, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, err = cli("train", "--model", "vae", "--data", "ring8", "--steps", "40", "--device", "cpu",
                       "--out", str(first), "--quiet", *tiny_args("vae", "ring8"))
    assert code == 0, err
    code, _, err = cli("train", "--resume", str(first / "experiment.genstudio"), "--steps", "20",
                       "--out", str(second), "--quiet")
    assert code == 0, err
    summary = json.loads((second / "summary.json").read_text())
    assert summary["steps"] == 60
    steps = [int(line.split(",")[0]) for line in (second / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == list(range(10, 61, 10))  # the first run's rows, then the new ones
    doc = ef.load(str(second / "experiment.genstudio"))
    assert doc.state.step == 60 and [s.step for s in doc.timeline] == [40, 60]


def test_cli_resume_finishes_the_budget_and_then_asks_for_more(cli, tiny_args, tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--model", "gan", "--data", "ring8", "--steps", "30", "--device", "cpu", "--out", str(out),
               "--quiet", *tiny_args("gan", "ring8"))[0] == 0
    code, _, err = cli("train", "--resume", str(out / "experiment.genstudio"), "--out", str(tmp_path / "again"))
    assert code == 2 and "budget is used up" in err
    code, _, err = cli("train", "--resume", str(out / "experiment.genstudio"), "--model", "vae", "--out", str(out))
    assert code == 2 and "--model" in err


def test_sample_reads_an_experiment_file(cli, tiny_args, tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--model", "ar", "--data", "names", "--steps", "10", "--device", "cpu", "--out", str(out),
               "--quiet", *tiny_args("ar", "names"))[0] == 0
    code, stdout, err = cli("sample", str(out / "experiment.genstudio"), "--n", "8", "--out", str(tmp_path / "s.png"))
    assert code == 0, err
    assert (tmp_path / "s.png").stat().st_size > 0


# atomic saves ------------------------------------------------------------------------------------------

SAVER = r"""
import sys
from dataclasses import replace
from genstudio.config import default_experiment
from genstudio.engine import experiment_file as ef
from genstudio.engine.trainer import Cadence, Trainer
exp = default_experiment("vae", "digits", device="cpu", threads=1)
exp = replace(exp, family=replace(exp.family, width=1024, depth=3))   # ~70 MB with Adam's moments
trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
path = sys.argv[1]
for i in range(1000):
    trainer.step = i
    state = trainer.state()
    print("saving", i, flush=True)
    ef.save(path, ef.ExperimentFile(exp, state))
    print("saved", i, flush=True)
"""


def test_killing_a_save_leaves_the_previous_file_intact(tmp_path):
    """SIGKILL a process in the middle of saving, several times: the file always opens, at the
    step of the last completed save (or the one after), and at least one kill hit a save mid-write."""
    path = str(tmp_path / "exp.genstudio")
    hit_mid_save = 0
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, path], stdout=subprocess.PIPE, text=True)
        saved = -1
        while True:  # wait until one save is complete and the next has begun
            line = proc.stdout.readline().split()
            if line[0] == "saved":
                saved = int(line[1])
            elif saved >= 0 and line[0] == "saving":
                break
        time.sleep(0.005 * attempt)
        proc.kill()
        proc.wait()
        leftovers = glob.glob(str(tmp_path / ".tmp-*"))
        hit_mid_save += bool(leftovers)
        for tmp in leftovers:
            os.unlink(tmp)
        doc = ef.load(path)  # never a half-written file
        assert doc.state.step in (saved, saved + 1)
    assert hit_mid_save >= 1, "no kill landed during a save: the test proved nothing"


def test_timeline_entries_sharing_one_array_save(make_experiment, tmp_path):
    """safetensors refuses tensors that share memory; two snapshots of the same array must still save."""
    trainer = Trainer(make_experiment("gan", "ring8"), QUIET)
    samples = trainer.snapshot().samples
    snaps = tuple(Snapshot(i, float(i), samples) for i in range(3))
    path = str(tmp_path / "shared.genstudio")
    ef.save(path, ef.ExperimentFile(trainer.exp, trainer.state(), timeline=snaps))
    assert all(np.array_equal(s.samples, samples) for s in ef.load(path).timeline)


def test_the_optimiser_implementation_is_this_machines(make_experiment, tmp_path):
    """A file saved where Adam ran fused opens where it cannot (an older torch, another device)."""
    from dataclasses import replace

    trainer = Trainer(make_experiment("vae", "ring8"), QUIET)
    list(trainer.run(steps=3))
    state = trainer.state()
    groups = state.meta["optimizers"][0]["param_groups"]
    meta = {**state.meta, "optimizers": [{**state.meta["optimizers"][0],
                                          "param_groups": [{**g, "fused": "from-elsewhere"} for g in groups]}]}
    resumed = Trainer(trainer.exp, QUIET, state=replace(state, meta=meta))
    fresh = Trainer(trainer.exp, QUIET)
    assert resumed.model.opt.param_groups[0]["fused"] == fresh.model.opt.param_groups[0]["fused"]
    list(resumed.run(steps=2))


def test_imported_text_embeds_exactly(tmp_path):
    from genstudio.config import default_experiment

    words = ["ada", "bo", "cy", "dot", "eve", "fay", "gus", "hal", "ivy", "jo", "kit", "lu"]
    (tmp_path / "pets.txt").write_text("\n".join(words), encoding="utf-8")
    exp = default_experiment("ar", str(tmp_path / "pets.txt"), device="cpu", threads=1)
    trainer = Trainer(exp, QUIET)
    list(trainer.run(steps=3))
    path = str(tmp_path / "pets.genstudio")
    ef.save(path, ef.ExperimentFile(exp, trainer.state(), dataset=trainer.dataset))
    (tmp_path / "pets.txt").unlink()
    doc = ef.load(path)
    ds = doc.dataset
    assert (ds.words, ds.held_out_words, ds.alphabet) == (trainer.dataset.words, trainer.dataset.held_out_words,
                                                          trainer.dataset.alphabet)
    resumed = Trainer(doc.experiment, QUIET, dataset=ds, state=doc.state)
    assert resumed.snapshot().samples == trainer.snapshot().samples


def test_a_files_data_key_never_names_a_cache_path(tmp_path, monkeypatch):
    """An embedded data set's key comes from its data, not from the file: a key aimed outside the cache
    (or at a built-in set's classifier) names nothing."""
    from dataclasses import replace

    from genstudio import data
    from genstudio.config import default_experiment
    from genstudio.engine import classifier

    ds = data.load("digits")
    folder = tmp_path / "imported.npz"
    np.savez(folder, x=(ds.x[:300] * 255).astype(np.uint8).reshape(-1, 8, 8), y=ds.labels[:300])
    exp = default_experiment("vae", str(folder), threads=1)
    trainer = Trainer(exp, QUIET)
    written = []
    for key in ("../../outside", "digits", "mnist-28-grey"):
        path = str(tmp_path / f"{len(written)}.genstudio")
        ef.save(path, ef.ExperimentFile(exp, trainer.state(), dataset=replace(trainer.dataset, key=key)))
        written.append(ef.load(path).dataset.key)
    assert len(set(written)) == 1 and written[0].startswith("file-") and "/" not in written[0]
    saved = []
    monkeypatch.setattr(classifier, "save_file", lambda state, path: saved.append(path))
    monkeypatch.setattr(classifier, "_train", lambda ds: classifier.Classifier(64, 10))
    classifier.load_classifier(replace(trainer.dataset, key="../../outside"))
    assert saved
    cache = os.path.realpath(os.environ["GENSTUDIO_CACHE"])
    assert os.path.realpath(saved[0]).startswith(cache + os.sep) and ".." not in os.path.basename(saved[0])
