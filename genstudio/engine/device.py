"""Choosing the training device and the CPU thread count."""
from __future__ import annotations

import os

import torch

from ..config import ConfigError


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str) -> torch.device:
    """auto picks cuda, then mps, then cpu; asking for a device that is not there is a ConfigError."""
    found = available_devices()
    if name == "auto":
        name = "cuda" if "cuda" in found else "mps" if "mps" in found else "cpu"
    if name not in found:
        build = f"torch {torch.__version__}"
        raise ConfigError(f"device {name!r} is not available on this machine ({build}; available: {', '.join(found)})")
    return torch.device(name)


def default_threads() -> int:
    # Keep a core for the GUI: with another busy thread on the machine, OpenMP spin-waiting made
    # torch's default all-core setting fall to 25-45% of its speed (measured on a 2-core machine).
    return max(1, (os.cpu_count() or 1) - 1)


def spare_threads(training_threads: int) -> int:
    """The cores a training process leaves to the rest of the app (at least one). More threads than
    that made the explorer's 10 ms answers take 100-240 ms beside training on 2 cores (spin-waiting
    on a busy core)."""
    return max(1, (os.cpu_count() or 1) - training_threads)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})"
