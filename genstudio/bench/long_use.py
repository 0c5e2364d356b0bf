"""A lesson's hour in minutes: the app trains while, at even intervals, the run is forked (the fork
trains beside it, replacing the previous one) or its data changes (built-in sets and imported files
in turn, through each family). Memory is the window's process and every process under it.

    genstudio bench --only long-use       # 30 minutes, 20 forks, 20 data changes
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# (family, data): built-in sets, and files imported as a user would (made by imported_files)
CHANGES = (("gan", "ring8"), ("vae", "digits"), ("gan", "points.csv"), ("diffusion", "grid25"),
           ("vae", "images.npy"), ("ar", "names"), ("diffusion", "digits"), ("gan", "moons"))


def process_tree(root: int | None = None) -> tuple[float, float, int]:
    """RSS of a process alone and with all its descendants (the training processes, the forkserver)
    in MiB, and how many processes that is (Linux)."""
    root = root or os.getpid()
    parents, rss = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue   # ended while we looked
        parents[int(name)] = int(fields["PPid"])
        rss[int(name)] = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return rss.get(root, 0.0), sum(rss.get(pid, 0.0) for pid in tree), len(tree)


def imported_files(folder: str) -> dict[str, str]:
    """A CSV of 2D points and an .npy of 28x28 images, as a user would bring them."""
    rng = np.random.default_rng(0)
    points = os.path.join(folder, "points.csv")
    angle = rng.uniform(0, 2 * np.pi, 2000)
    radius = rng.choice([1.0, 2.0], (2000, 1))
    xy = np.stack([np.cos(angle), np.sin(angle)], 1) * radius + rng.normal(0, 0.05, (2000, 2))
    np.savetxt(points, xy, delimiter=",", header="x,y", comments="")
    images = os.path.join(folder, "images.npy")
    x = np.zeros((1000, 28, 28), np.uint8)
    for i in range(1000):
        r, c = rng.integers(2, 18, 2)
        x[i, r:r + 8, c:c + 8] = 255
    np.save(images, x)
    return {"points.csv": points, "images.npy": images}


def long_use_probe(seconds: float, forks: int, changes: int) -> None:
    """Child process: the app for `seconds`, with `forks` forks and `changes` data changes spread evenly;
    prints RSS samples and what was done, as JSON."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from genstudio.config import default_experiment
    from genstudio.live.records import run_log
    from genstudio.ui.main_window import MainWindow

    from .bench import run_window_for

    app = QApplication([])
    tmp = tempfile.mkdtemp(prefix="genstudio-long-use-")
    files = imported_files(tmp)
    window = MainWindow(QSettings(os.path.join(tmp, "bench.ini"), QSettings.IniFormat))
    window.unsaved_work.set_asking(False)
    window.show()
    pane = window.pane
    pane.panel.set_experiment(default_experiment("gan", "ring8"))
    pane.reset(start=True)
    events = ["fork", "data"] * min(forks, changes) + ["fork"] * (forks - changes) + ["data"] * (changes - forks)
    change = itertools.cycle(CHANGES)
    every = seconds / (len(events) + 1)
    done = {"fork": 0, "data": 0, "fork skipped": 0}
    samples: list[tuple[float, float, float, int]] = []   # seconds, the window's MiB, with its processes, processes

    forked_at = [-1]   # the step the fork beside the run started from

    def act(kind: str) -> bool:
        """Does the event, or waits (False): a fork for a kept state to fork from, every event for the
        last fork to train a step of its own (one replaced before that leaves no row in the runs table)."""
        guest = window.comparison.guest.run if window.comparison is not None else None
        if guest is not None and guest.step <= forked_at[0]:
            return False
        if kind == "fork":
            kept = [s for s in pane.run.snapshots if s.step in pane.run.snapshots.forkable]
            if not kept:
                return False
            window.fork_from(kept[-1], pane.run.experiment.family.lr * 0.5)
            forked_at[0] = kept[-1].step
        else:
            family, data = next(change)
            if data in files:
                pane.panel.set_experiment(default_experiment(family))
                pane.use_data(files[data])
            else:
                pane.panel.set_experiment(default_experiment(family, data))
                pane.reset()
            pane.toggle_training()
        done[kind] += 1
        return True

    def tick(now: float) -> None:
        samples.append((now, *process_tree()))
        if window.comparison is not None and window.comparison.guest.run.state == "paused":
            window.comparison.guest.toggle_training()     # the fork trains too
        if events and now >= every * (sum(done.values()) + 1) and act(events[0]):
            events.pop(0)

    def settled() -> bool:   # every event done, and the newest run has trained (it has a row)
        return not events and pane.run.step > 0

    run_window_for(app, window, seconds, 1000, tick, settled)
    done["fork skipped"] = events.count("fork")   # the run never kept a state, or the fork never trained
    print(json.dumps({"samples": samples, "done": done, "runs": len(run_log().records),
                      "kept states": sum(r.document is not None for r in run_log().records)}))


def section_long_use(budget):
    from .bench import Row

    seconds, forks, changes = budget.long_use_s, 20, 20
    code = f"from genstudio.bench.long_use import long_use_probe; long_use_probe({seconds!r}, {forks}, {changes})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=seconds + 600).stdout
    result = json.loads(out.strip().splitlines()[-1])
    samples = result["samples"]
    k = max(1, len(samples) // 30)   # a few samples at each end
    done = result["done"]
    where = f"{seconds / 60:g} min app run, {done['fork']} forks, {done['data']} data changes"
    for column, whose in ((1, "the window's process"), (2, "the window and its processes")):
        start = float(np.mean([s[column] for s in samples[k:2 * k]]))   # once the first run trains
        end = float(np.mean([s[column] for s in samples[-k:]]))
        yield Row(f"long use: RSS of {whose} at the start, {where}", start, "MiB")
        yield Row(f"long use: RSS of {whose} at the end, {where}", end, "MiB")
        if column == 1:   # the training processes are new with each run (another model, other data)
            yield Row(f"long use: RSS growth of {whose}, {where}", end - start, "MiB", "<= 300")
    yield Row(f"long use: runs in the runs table at the end, {where}", result["runs"], "runs")
    yield Row(f"long use: processes at the end (window, forkserver, resource tracker, two runs), {where}",
              samples[-1][3], "processes", "<= 5")
