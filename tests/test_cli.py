"""The headless command line: run folders, reproducibility, bad input, divergence, entry points."""
from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from genstudio import __version__
from genstudio.engine import checkpoint
from genstudio.engine import trainer as trainer_module
from genstudio.models.vae import VAE

RUN_FILES = {"config.json", "model.safetensors", "metrics.csv", "samples.png", "summary.json"}


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _png_size(path):
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.verify()
    with Image.open(path) as img:
        img.load()
        return img.size


@pytest.fixture
def record_trainers(monkeypatch):
    """Every Trainer the CLI builds in this test, so its trained model can be inspected."""
    made = []

    class Recording(trainer_module.Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(trainer_module, "Trainer", Recording)
    return made


# the happy path ------------------------------------------------------------------------------------

def test_train_writes_a_run_folder(cli, tiny_args, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = cli("train", "--model", "vae", "--data", "digits", "--steps", "30", "--seed", "1",
                               "--device", "cpu", "--out", str(out), *tiny_args("vae", "digits"))
    assert code == 0, stderr
    assert RUN_FILES <= set(os.listdir(out))
    assert "wrote" in stdout and str(out) in stdout

    rows = _read_csv(out / "metrics.csv")
    assert rows[0] == ["step", "seconds", "loss", "recon", "kl", "train_measure", "held_out_measure"]
    assert [int(r[0]) for r in rows[1:]] == [10, 20, 30]  # --log-every defaults to 10
    assert all(np.isfinite([float(v) for v in r[1:5]]).all() for r in rows[1:])
    assert rows[-1][5] and rows[-1][6], "the run ends with a point of the held-out curve"

    width, height = _png_size(out / "samples.png")
    assert width > 8 and height > 8

    summary = json.loads((out / "summary.json").read_text())
    assert {"model", "data", "device", "steps", "seconds", "steps_per_s", "metrics"} <= set(summary)
    assert (summary["model"], summary["data"], summary["steps"]) == ("vae", "digits", 30)
    assert summary["seconds"] > 0 and summary["steps_per_s"] > 0
    assert "CPU" in summary["device"]
    assert {"fd", "class_coverage", "nll_nats", "bits_per_dim"} <= set(summary["metrics"])

    exp, model, ds = checkpoint.load_run(str(out), torch.device("cpu"))
    assert (exp.model, exp.data, exp.steps, exp.seed, exp.threads) == ("vae", "digits", 30, 1, 1)
    assert exp.family.width == 32


def test_log_every(cli, tiny_args, tmp_path):
    out = tmp_path / "run"
    code, _, stderr = cli("train", "--model", "gan", "--data", "ring8", "--steps", "20", "--log-every", "5",
                          "--quiet", "--out", str(out), *tiny_args("gan", "ring8"))
    assert code == 0, stderr
    rows = _read_csv(out / "metrics.csv")
    assert rows[0] == ["step", "seconds", "d_loss", "g_loss", "penalty", "train_measure", "held_out_measure"]
    assert [int(r[0]) for r in rows[1:]] == [5, 10, 15, 20]


def test_batch_size_and_lr_flags(cli, tiny_args, tmp_path):
    out = tmp_path / "run"
    code, _, stderr = cli("train", "--model", "vae", "--data", "ring8", "--steps", "5", "--quiet",
                          "--out", str(out), *tiny_args("vae", "ring8"), "--batch-size", "16", "--lr", "0.002")
    assert code == 0, stderr
    family = json.loads((out / "config.json").read_text())["family"]
    assert family["batch_size"] == 16 and family["lr"] == 0.002


def test_sample_writes_a_png(cli, tiny_args, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "--model", "vae", "--data", "digits", "--steps", "10", "--quiet",
               "--out", str(run), *tiny_args("vae", "digits"))[0] == 0
    png = tmp_path / "x.png"
    code, stdout, stderr = cli("sample", str(run), "--n", "16", "--out", str(png), "--device", "cpu")
    assert code == 0, stderr
    assert "16" in stdout
    # 16 images of 8x8 pixels, drawn 4x larger in a 4x4 grid with 1-pixel gaps
    assert _png_size(png) == (4 * 33 + 1, 4 * 33 + 1)


def test_sample_draws_the_class_asked_for(cli, tiny_args, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "--model", "vae", "--data", "digits", "--steps", "10", "--quiet",
               "--out", str(run), *tiny_args("vae", "digits"))[0] == 0
    pictures = {}
    for name, asked in (("three", ["--class", "3"]), ("also-three", ["--class", "3"]), ("seven", ["--class", "7"]),
                        ("each", [])):
        png = tmp_path / f"{name}.png"
        code, _, stderr = cli("sample", str(run), "--n", "4", "--out", str(png), "--device", "cpu", *asked)
        assert code == 0, stderr
        with Image.open(png) as img:
            pictures[name] = np.asarray(img.convert("L"), np.int16)
    assert np.array_equal(pictures["three"], pictures["also-three"])
    assert not np.array_equal(pictures["three"], pictures["seven"])
    assert not np.array_equal(pictures["three"], pictures["each"])
    for bad in (["--class", "12"], ["--class", "x"], ["--guidance", "2"]):
        code, _, stderr = cli("sample", str(run), "--out", str(tmp_path / "bad.png"), *bad)
        assert code == 2 and stderr.count("\n") == 1, bad
    assert not (tmp_path / "bad.png").exists()


def test_sample_guides_a_transformer_trained_with_label_dropout(cli, tiny_args, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "--model", "ar", "--data", "digits", "--steps", "10", "--quiet",
               "--out", str(run), *tiny_args("ar", "digits"))[0] == 0
    pictures = {}
    for scale in ("1", "3"):
        png = tmp_path / f"{scale}.png"
        code, _, stderr = cli("sample", str(run), "--n", "4", "--class", "3", "--guidance", scale, "--out", str(png),
                              "--device", "cpu")
        assert code == 0, stderr
        with Image.open(png) as img:
            pictures[scale] = np.asarray(img.convert("L"), np.int16)
    assert not np.array_equal(pictures["1"], pictures["3"])


# checkpoints ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, data_name", [
    ("gan", "ring8"),
    ("gan", "digits"),
    ("vae", "ring8"),
    ("vae", "digits"),
    ("diffusion", "moons"),
    ("diffusion", "digits"),
    ("ar", "names"),
    ("ar", "ring8"),
])
def test_checkpoint_round_trip(cli, tiny_args, record_trainers, tmp_path, model, data_name):
    out = tmp_path / "run"
    code, _, stderr = cli("train", "--model", model, "--data", data_name, "--steps", "15", "--seed", "2",
                          "--device", "cpu", "--quiet", "--out", str(out), *tiny_args(model, data_name))
    assert code == 0, stderr
    assert RUN_FILES <= set(os.listdir(out))
    trained = record_trainers[-1]
    assert trained.step == 15

    exp, loaded, ds = checkpoint.load_run(str(out), torch.device("cpu"))
    assert exp == trained.exp
    assert type(loaded) is type(trained.model) and not loaded.training
    original = trained.model.state_dict()
    assert set(loaded.state_dict()) == set(original)
    assert all(torch.equal(v, original[k]) for k, v in loaded.state_dict().items())

    noise = trained.model.make_noise(32, torch.Generator().manual_seed(7))
    expected = trained.model.sample(noise)
    got = loaded.sample(noise.clone())
    assert torch.equal(got, expected)
    # and the samples are not trivially equal: other noise gives other samples
    other = loaded.sample(trained.model.make_noise(32, torch.Generator().manual_seed(8)))
    assert not torch.equal(other, got)


def test_load_run_refuses_a_folder_without_a_run(tmp_path):
    from genstudio.config import ConfigError

    with pytest.raises(ConfigError, match="not a training run"):
        checkpoint.load_run(str(tmp_path), torch.device("cpu"))


def test_load_run_refuses_damaged_weights(cli, tiny_args, tmp_path):
    from genstudio.config import ConfigError

    out = tmp_path / "run"
    assert cli("train", "--model", "vae", "--data", "ring8", "--steps", "3", "--quiet", "--out", str(out),
               *tiny_args("vae", "ring8"))[0] == 0
    (out / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="cannot load weights"):
        checkpoint.load_run(str(out), torch.device("cpu"))
    code, _, stderr = cli("sample", str(out), "--out", str(tmp_path / "x.png"))
    assert code == 2 and stderr.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


# reproducibility -----------------------------------------------------------------------------------

def _without_seconds(rows):
    assert rows[0][1] == "seconds"
    return [r[:1] + r[2:] for r in rows]


def test_same_seed_same_metrics_csv(cli, tiny_args, tmp_path):
    def train(name, seed):
        out = tmp_path / name
        code, _, stderr = cli("train", "--model", "diffusion", "--data", "moons", "--steps", "40", "--seed", seed,
                              "--device", "cpu", "--quiet", "--out", str(out), *tiny_args("diffusion", "moons"))
        assert code == 0, stderr
        return _read_csv(out / "metrics.csv"), json.loads((out / "summary.json").read_text())

    (a, sa), (b, sb), (c, _) = train("a", "5"), train("b", "5"), train("c", "6")
    assert len(a) == 5
    assert _without_seconds(a) == _without_seconds(b)
    assert sa["metrics"] == sb["metrics"]
    assert _without_seconds(a) != _without_seconds(c)


# bad input -----------------------------------------------------------------------------------------

BAD_TRAIN = {
    "unknown model": ["--model", "flow", "--data", "ring8"],
    "unknown data": ["--model", "vae", "--data", "nope"],
    "unknown --set key": ["--model", "vae", "--data", "ring8", "--set", "no_such_knob=1"],
    "wrong --set type": ["--model", "vae", "--data", "ring8", "--set", "width=wide"],
    "--set out of range": ["--model", "vae", "--data", "ring8", "--set", "width=2"],
    "--set without =": ["--model", "vae", "--data", "ring8", "--set", "width"],
    "steps 0": ["--model", "vae", "--data", "ring8", "--steps", "0"],
    "steps -3": ["--model", "vae", "--data", "ring8", "--steps", "-3"],
    "seconds 0": ["--model", "vae", "--data", "ring8", "--seconds", "0"],
    "lr 1e6": ["--model", "vae", "--data", "ring8", "--lr", "1e6"],
    "device cuda": ["--model", "vae", "--data", "ring8", "--device", "cuda"],
    "device tpu": ["--model", "vae", "--data", "ring8", "--device", "tpu"],
    "vae on text": ["--model", "vae", "--data", "names"],
    "diffusion on text": ["--model", "diffusion", "--data", "names"],
    "gan on text": ["--model", "gan", "--data", "names"],
    "unknown flag": ["--model", "vae", "--data", "ring8", "--no-such-flag"],
}


def _snapshot_tree(folder):
    return {p: (os.path.getmtime(os.path.join(folder, p)), open(os.path.join(folder, p), "rb").read())
            for p in os.listdir(folder)}


@pytest.mark.parametrize("case", list(BAD_TRAIN))
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing"])
def test_bad_train_input(cli, tmp_path, case, existing):
    if case == "device cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "run"
    if existing:
        out.mkdir()
        (out / "config.json").write_text("{}")
        (out / "notes.txt").write_text("keep me")
        before = _snapshot_tree(out)
    code, stdout, stderr = cli("train", *BAD_TRAIN[case], "--steps", "5", "--quiet", "--out", str(out))
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("genstudio: error:"), stderr
    assert stdout == ""
    if existing:
        assert _snapshot_tree(out) == before
    else:
        assert not out.exists()
    assert os.listdir(tmp_path) == (["run"] if existing else [])


def test_bad_input_messages_say_what_is_wrong(cli, tmp_path):
    out = str(tmp_path / "run")
    _, _, err = cli("train", "--model", "flow", "--data", "ring8", "--out", out)
    assert "flow" in err and "vae" in err
    _, _, err = cli("train", "--model", "vae", "--data", "ring8", "--set", "no_such_knob=1", "--out", out)
    assert "no_such_knob" in err and "latent_dim" in err
    _, _, err = cli("train", "--model", "vae", "--data", "names", "--out", out)
    assert "text" in err
    _, _, err = cli("train", "--model", "vae", "--data", "ring8", "--steps", "0", "--out", out)
    assert "--steps" in err


def test_out_is_an_existing_file(cli, tmp_path):
    target = tmp_path / "taken"
    target.write_text("precious")
    before = _snapshot_tree(tmp_path)
    code, _, stderr = cli("train", "--model", "vae", "--data", "ring8", "--steps", "5", "--quiet",
                          "--out", str(target))
    assert code == 2 and stderr.count("\n") == 1 and "taken" in stderr
    assert _snapshot_tree(tmp_path) == before


def test_bad_sample_input(cli, tiny_args, tmp_path):
    code, _, stderr = cli("sample", str(tmp_path / "missing"), "--out", str(tmp_path / "x.png"))
    assert code == 2 and stderr.count("\n") == 1 and "not a training run" in stderr
    run = tmp_path / "run"
    assert cli("train", "--model", "vae", "--data", "ring8", "--steps", "3", "--quiet", "--out", str(run),
               *tiny_args("vae", "ring8"))[0] == 0
    folder = tmp_path / "pictures"
    folder.mkdir()
    code, _, stderr = cli("sample", str(run), "--out", str(folder))
    assert code == 2 and stderr.count("\n") == 1
    assert os.listdir(folder) == []
    code, _, stderr = cli("sample", str(run), "--n", "0", "--out", str(tmp_path / "x.png"))
    assert code == 2 and stderr.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_help_lists_the_commands(cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli("--help")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert all(name in out for name in ("train", "sample", "gui"))


def test_no_command_opens_the_window(monkeypatch):
    from genstudio import cli as cli_module
    from genstudio.ui import app

    opened = []
    monkeypatch.setattr(app, "run", lambda **kw: opened.append(kw) or 0)
    assert cli_module.main([]) == 0
    assert opened == [{"self_test": False, "screenshots": None, "open_path": None}]


# divergence ----------------------------------------------------------------------------------------

def test_divergence_exits_1_and_keeps_no_weights(cli, tiny_args, tmp_path, monkeypatch):
    """No setting within the knobs' ranges reliably blows up, so the 25th step is made to return NaN."""
    real_step = VAE.train_step
    calls = itertools.count(1)

    def step(self, draw):
        losses = real_step(self, draw)
        return losses * float("nan") if next(calls) >= 25 else losses

    monkeypatch.setattr(VAE, "train_step", step)
    out = tmp_path / "run"
    code, _, stderr = cli("train", "--model", "vae", "--data", "ring8", "--steps", "200", "--log-every", "5",
                          "--quiet", "--out", str(out), *tiny_args("vae", "ring8"))
    assert code == 1
    assert stderr.count("\n") == 1 and "step 25" in stderr
    rows = _read_csv(out / "metrics.csv")
    assert rows[0] == ["step", "seconds", "loss", "recon", "kl"]
    assert [int(r[0]) for r in rows[1:]] == [5, 10, 15, 20, 24]   # up to the last finite step
    assert all(np.isfinite([float(v) for v in r[2:]]).all() for r in rows[1:])
    assert not (out / "model.safetensors").exists()
    assert not (out / "samples.png").exists()
    assert (out / "config.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged at step 25"


# the real entry points -----------------------------------------------------------------------------

def test_console_script_version():
    script = os.path.join(os.path.dirname(sys.executable), "genstudio")
    assert os.path.isfile(script), "the genstudio console script is not installed"
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"genstudio {__version__}"


def test_python_m_genstudio_train(tmp_path, genstudio_cache):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "genstudio", "train", "--model", "vae", "--data", "ring8",
                           "--steps", "20", "--quiet", "--threads", "1", "--set", "width=32", "--out", str(out)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GENSTUDIO_CACHE": str(genstudio_cache)})
    assert done.returncode == 0, done.stderr
    assert RUN_FILES <= set(os.listdir(out))
    assert json.loads((out / "summary.json").read_text())["steps"] == 20
    bad = subprocess.run([sys.executable, "-m", "genstudio", "train", "--model", "vae", "--data", "ring8",
                          "--steps", "0", "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_a_file_as_the_only_argument_opens_it_in_the_window(tmp_path, monkeypatch, capsys):
    """What a double-click or "Open with" runs: `genstudio FILE` (and `genstudio gui FILE`)."""
    from genstudio import cli
    from genstudio.ui import app

    opened = []
    monkeypatch.setattr(app, "run", lambda **kwargs: opened.append(kwargs) or 0)
    path = tmp_path / "run.genstudio"
    path.write_bytes(b"not read here")
    assert cli.main([str(path)]) == 0 and cli.main(["gui", str(path)]) == 0
    assert [k["open_path"] for k in opened] == [str(path)] * 2 and not opened[0]["self_test"]
    assert cli.main([str(tmp_path / "gone.genstudio")]) == 2
    assert "gone.genstudio: no such file, and not a command" in capsys.readouterr().err
    assert cli.main([]) == 0 and opened[-1]["open_path"] is None
