"""The training processes' forkserver (multiprocessing's "forkserver" start method): a process that
imports torch once and forks each run's training process from itself, so that a run starts in
milliseconds, not in the seconds a fresh interpreter takes. It is started with the window
(`genstudio/__main__.py`), before anything else is imported, so that its imports (torch and
torch._dynamo, about 3 s) run in their own process while the window builds. Where there is no
forkserver (Windows), "spawn" is used and there is nothing to start early.

Imports nothing heavy: the entry point calls it first.
"""
from __future__ import annotations

import multiprocessing

# What the forkserver imports once, so that each run's child has it: torch._dynamo too, which every
# torch optimiser imports on its first step (its `step` wrapper does; 1-1.5 s per run otherwise)
PRELOAD = ["torch", "torch._dynamo", "genstudio.data", "genstudio.engine.trainer", "genstudio.live.training_process"]

_context = None


def context():
    """The multiprocessing context for training processes (made once)."""
    global _context
    if _context is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(PRELOAD)
        else:
            _context = multiprocessing.get_context("spawn")
    return _context


def start_early() -> None:
    """Start the forkserver now (once; later calls do nothing)."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver
        forkserver.ensure_running()
