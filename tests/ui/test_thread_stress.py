"""The window's threads cannot deadlock: hundreds of resets, family changes, opened files and new
windows while training (tests/ui/thread_stress.py), in a subprocess with a hard time limit, so a
hang fails this test with every thread's stack instead of hanging the suite."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_resets_family_changes_and_reopens_while_training_never_hang():
    deadline = 240
    proc = subprocess.run([sys.executable, "-m", "tests.ui.thread_stress", "--cycles", "200",
                           "--deadline", str(deadline)], cwd=ROOT, capture_output=True, text=True,
                          timeout=deadline + 60)
    log = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines() if "propagateSizeHints" not in line)
    assert proc.returncode == 0, f"the stress run failed or hung (exit {proc.returncode}):\n{log[-20000:]}"
    assert "200 cycles" in proc.stdout and "no hang" in proc.stdout
