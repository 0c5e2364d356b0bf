"""Shared set-up: a private cache folder, offscreen Qt, one torch thread, tiny configs.

GENSTUDIO_CACHE points at a per-session temporary folder before any test runs, so the cached
digits classifier (trained on first use) never lands in ~/.cache. Subprocesses inherit it.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import struct
import threading
import time
import urllib.parse

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


# a local MNIST server (download tests, in tests/ and tests/ui) ----------------------------------

def idx_gz(arr: np.ndarray) -> bytes:
    raw = struct.pack(">I", 0x800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    return gzip.compress(raw, mtime=0)


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder, and mirrors that misbehave (<route>/<file>):
    short/     promises more bytes than it sends, then hangs up;
    endless/   sends zeros until the client hangs up (64 MB at most, so a test that fails still ends);
    drip/      sends one byte every 50 ms until the client hangs up (200 bytes at most);
    length/V/  sends the file with "Content-Length: V" (V unquoted: %C2%B2 is a superscript two)."""

    def do_GET(self):
        route, _, rest = self.path.lstrip("/").partition("/")
        if route == "short":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + bytes(100))
            self.wfile.flush()
            self.close_connection = True
        elif route in ("endless", "drip"):
            self.send_response(200)
            self.end_headers()  # no length: the body ends when the connection does
            block, times, pause = (bytes(64 * 1024), 1024, 0) if route == "endless" else (b"\0", 200, 0.05)
            for _ in range(times):
                try:
                    self.wfile.write(block)
                except OSError:  # the client hung up
                    break
                time.sleep(pause)
            self.close_connection = True
        elif route == "length":
            value, _, fname = rest.partition("/")
            with open(os.path.join(self.directory, fname), "rb") as fh:
                data = fh.read()
            self.send_response(200)
            self.send_header("Content-Length", urllib.parse.unquote(value))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
        else:
            super().do_GET()

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, folder):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def served(tmp_path):
    """A server with small MNIST-format files (50 train, 20 test, 28x28); yields (server, md5s, arrays)."""
    folder = tmp_path / "www"
    folder.mkdir()
    rng = np.random.default_rng(7)
    arrays = {"train": (rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), rng.integers(0, 10, 50, dtype=np.uint8)),
              "t10k": (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), rng.integers(0, 10, 20, dtype=np.uint8))}
    md5 = {}
    for prefix, (images, labels) in arrays.items():
        for fname, arr in ((f"{prefix}-images-idx3-ubyte.gz", images), (f"{prefix}-labels-idx1-ubyte.gz", labels)):
            data = idx_gz(arr)
            (folder / fname).write_bytes(data)
            md5[fname] = hashlib.md5(data).hexdigest()
    server = Server(str(folder))
    yield server, md5, arrays
    server.stop()
