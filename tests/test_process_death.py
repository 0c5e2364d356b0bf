"""A training child does not outlive the process that owns it: killed while its child trains, is
paused or downloads, the owner takes the child and the forkserver with it within seconds."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver and /proc: Linux")

OWNER = textwrap.dedent("""
    import sys, time
    from multiprocessing import forkserver as server
    from genstudio.live import forkserver
    from genstudio.engine.events import LossPoints
    from genstudio.live.messages import Progress, Ready
    from genstudio.live.training_process import TrainingProcess
    from genstudio.config import default_experiment

    mode = sys.argv[1]
    if mode == "downloading":   # the child's data set "downloads" for ever (slow_download.py)
        forkserver.context().set_forkserver_preload(forkserver.PRELOAD + ["slow_download"])
    said = []

    def report(worker, message):
        wanted = {"training": LossPoints, "paused": Ready, "downloading": Progress}[mode]
        if isinstance(message, wanted) and not said:
            said.append(True)
            print("pids", worker._process.pid, server._forkserver._forkserver_pid, flush=True)

    exp = default_experiment("gan", "ring8", device="cpu", threads=1)
    TrainingProcess(exp, report, start_paused=mode != "training").start()
    time.sleep(600)
""")

SLOW_DOWNLOAD = textwrap.dedent("""
    import time
    from genstudio import data

    def load(name, size=0, color="auto", progress=None):
        while True:
            progress(1, 100, "train-images-idx3-ubyte.gz")
            time.sleep(0.2)

    data.load = load
""")


def gone(pid: int) -> bool:
    """No such process, or only its zombie (its new parent reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("mode", ["training", "paused", "downloading"])
def test_killing_the_owner_ends_its_training_child_and_the_forkserver(mode, tmp_path):
    (tmp_path / "slow_download.py").write_text(SLOW_DOWNLOAD)
    # the owner runs in tmp_path, where the forkserver finds slow_download.py to preload
    owner = subprocess.Popen([sys.executable, "-c", OWNER, mode, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                             cwd=tmp_path, env={**os.environ, "GENSTUDIO_CACHE": str(tmp_path / "cache")})
    try:
        line = owner.stdout.readline()
        assert line.startswith("pids "), line
        child, forkserver = map(int, line.split()[1:])
        assert not gone(child) and not gone(forkserver)
        time.sleep(0.5)                          # (training, paused or downloading now)
        assert not gone(child)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 5
        while not (gone(child) and gone(forkserver)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(child) and gone(forkserver), f"still there after 5 s: child {not gone(child)}, " \
                                                 f"forkserver {not gone(forkserver)}"
    finally:
        owner.kill()
        owner.wait(10)
