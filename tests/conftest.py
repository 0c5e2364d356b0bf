"""Shared set-up: a private cache folder, offscreen Qt, one torch thread, tiny configs.

GENSTUDIO_CACHE points at a per-session temporary folder before any test runs, so the cached
digits classifier (trained on first use) never lands in ~/.cache. Subprocesses inherit it.
"""
from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything can import Qt

from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genstudio.config import Experiment, default_experiment  # noqa: E402

# Small widths that still learn in a few hundred CPU steps.
TINY: dict[str, dict] = {
    "gan": {"width": 32, "batch_size": 128},
    "vae": {"width": 32, "batch_size": 64},
    "diffusion": {"width": 32, "batch_size": 128, "sample_steps": 10},
    "ar": {"n_embd": 32, "n_layer": 1, "batch_size": 32},
}
TINY_IMAGE = {"gan": {"width": 8}, "diffusion": {"width": 8, "batch_size": 16, "sample_steps": 5}}


@pytest.fixture(scope="session", autouse=True)
def genstudio_cache(tmp_path_factory):
    """Every cache write of the session (and of its subprocesses) goes to a temporary folder."""
    folder = tmp_path_factory.mktemp("genstudio-cache")
    previous = os.environ.get("GENSTUDIO_CACHE")
    os.environ["GENSTUDIO_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("GENSTUDIO_CACHE", None)
    else:
        os.environ["GENSTUDIO_CACHE"] = previous


@pytest.fixture(autouse=True)
def one_thread():
    """Code that does not go through a Trainer (which sets threads itself) also uses one thread."""
    torch.set_num_threads(1)


def tiny_family(model: str, data: str, **family):
    """The tiny settings for this family and data set, with `family` on top."""
    from genstudio.data import load

    image = load(data).kind == "image"
    return {**TINY[model], **(TINY_IMAGE.get(model, {}) if image else {}), **family}


@pytest.fixture
def make_experiment():
    """make_experiment(model, data, steps=..., seed=..., **family knobs) -> a tiny CPU Experiment."""
    def make(model: str, data: str, steps: int | None = 20, seed: int = 0, seconds=None, **family) -> Experiment:
        exp = default_experiment(model, data, steps=steps, seconds=seconds, seed=seed, device="cpu", threads=1)
        return replace(exp, family=replace(exp.family, **tiny_family(model, data, **family)))
    return make


@pytest.fixture
def tiny_args():
    """tiny_args(model, data, **knobs) -> the --set arguments of the tiny settings, plus --threads 1."""
    def args(model: str, data: str, **family) -> list[str]:
        out = ["--threads", "1"]
        for key, value in tiny_family(model, data, **family).items():
            out += ["--set", f"{key}={value}"]
        return out
    return args


@pytest.fixture
def cli(capsys):
    """cli(*argv) -> (exit code, stdout, stderr) of genstudio.cli.main, run in this process."""
    from genstudio import cli as cli_module

    def call(*argv: str):
        capsys.readouterr()  # drop anything printed before
        code = cli_module.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return call


@pytest.fixture
def losses_of():
    """losses_of(events) -> every LossPoints value of a run, concatenated per loss name (and 'step')."""
    from genstudio.engine.events import LossPoints

    def collect(events) -> dict[str, np.ndarray]:
        points = [e for e in events if isinstance(e, LossPoints)]
        assert points, "the run reported no losses"
        out = {"step": np.concatenate([p.steps for p in points])}
        for name in points[0].values:
            out[name] = np.concatenate([p.values[name] for p in points])
        return out
    return collect
