"""`genstudio bench` on a tiny budget: the table's structure, not the speed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from genstudio.bench.bench import ON_REQUEST, SECTIONS, Row

ROW_KEYS = {"name", "value", "unit", "goal", "meets"}
# a name fragment that every section's rows carry
SECTION_ROWS = {"engine": "engine / reference loop", "overhead": "app / headless",
                "responsiveness": "timer lateness p95", "startup": "startup, first window shown",
                "interaction": "scrub latency", "quality": "Frechet distance", "images": "digits28",
                "conditional": "class accuracy, diffusion/digits28",
                "memory": "memory: peak RSS"}


def test_goal_verdicts():
    assert Row("a", 1.6, "x", ">= 1.5").meets is True
    assert Row("a", 1.4, "x", ">= 1.5").meets is False
    assert Row("a", 9, "ms", "<= 8").meets is False
    assert Row("a", 9, "ms").meets is None
    assert Row("a", 60, "s", "<= 60", meets=False).meets is False  # a target never met
    assert "MISSES GOAL" in Row("a", 1.4, "x", ">= 1.5").line()


def test_quick_bench_on_a_tiny_budget(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "genstudio", "bench", "--quick", "--budget-scale", "0.02",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert isinstance(rows, list) and rows
    for row in rows:
        assert set(row) == ROW_KEYS, row
        assert isinstance(row["value"], (int, float)) and not isinstance(row["value"], bool), row
        assert row["meets"] is None or isinstance(row["meets"], bool), row
        assert (row["goal"] is None) == (row["meets"] is None), row
        assert isinstance(row["name"], str) and isinstance(row["unit"], str)
    names = [row["name"] for row in rows]
    assert set(SECTION_ROWS) == set(SECTIONS) - set(ON_REQUEST)
    for section, fragment in SECTION_ROWS.items():
        assert any(fragment in name for name in names), f"no {section} row"
    for fragment in ("vae latent slider -> image latency p95", "vae map click -> image latency p95",
                     "vae interpolation strip", "latent lab on screen + slider drag", "weight copy to the explorer",
                     "heat map + mesh updates per second", "plane view on screen, every layer on",
                     "gan nearest-neighbour click -> images latency p95, gan/digits",
                     "diffusion scrub (100-step trajectory kept) latency p95, diffusion/digits",
                     "diffusion Sample -> first denoising frame latency p95, diffusion/digits",
                     "diffusion guidance slider -> first guided frame latency p95, diffusion/digits",
                     "diffusion class picker -> that class's grid latency p95, diffusion/digits",
                     "vae class picker -> that class's image latency p95, vae/digits",
                     "gan class picker -> that class's images latency p95, gan/digits",
                     "ar class picker -> that class's batch latency p95, ar/digits",
                     "ar guidance -> a new batch latency p95, ar/digits",
                     "class accuracy, ar/digits28", "Frechet distance, ar/digits28",
                     "path length / straight line, flow matching, ring8, 5 steps",
                     "energy distance, flow matching (Euler), grid25",
                     "Frechet distance, DDPM (DDIM sampler), digits28",
                     "64-sample 50-step DDIM trajectory while training", "forward page + denoising field on screen",
                     "ar next token -> sample and bars latency p95, ar/digits",
                     "ar next token -> sample and bars latency p95, ar/names", "time to write one 28x28 image",
                     "ar attention scrub -> heads and bars latency p95, ar/names",
                     "ar attention scrub -> heads and bars latency p95, ar/digits28",
                     "every head's attention for a 28x28 image", "every head's attention for a 100-character line",
                     "time to write 100 characters", "Write page animating", "held-out nats/char, ar/names",
                     "held-out nats/char, bigram baseline"):
        assert any(fragment in name for name in names), f"no {fragment!r} row"
    printed = proc.stdout
    for row in rows:  # the printed table holds the same rows, misses said plainly
        assert row["name"] in printed
    assert printed.count("MISSES GOAL") == sum(row["meets"] is False for row in rows)


def test_long_use_forks_and_changes_data_with_one_process_per_run():
    """The long-use run on a tiny budget: every fork and data change happens, each replaced run's
    training process is gone, and the runs table holds every run that trained."""
    code = "from genstudio.bench.long_use import long_use_probe; long_use_probe(24, 2, 2)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["done"] == {"fork": 2, "data": 2, "fork skipped": 0}
    _, window_rss, rss, processes = result["samples"][-1]
    assert rss > window_rss > 100 and processes == 5     # window, forkserver, resource tracker, the run and its fork
    assert result["runs"] == 5              # the first run, two forks, two data changes
