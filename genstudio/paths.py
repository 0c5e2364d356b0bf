"""Where GenStudio's own files are (the icon, lessons): the same call from the source tree, an
installed wheel and the frozen app, whose bundle holds them under the same relative path."""
from __future__ import annotations

import os
import sys


def frozen() -> bool:
    """Running from the PyInstaller bundle (build_scripts/build.py)."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def resources_dir() -> str:
    if frozen():   # PyInstaller's documented name for the bundle's folder
        return os.path.join(getattr(sys, "_MEIPASS"), "genstudio", "resources")  # noqa: B009
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources")


def resource(*parts: str) -> str:
    """genstudio/resources/<parts>."""
    return os.path.join(resources_dir(), *parts)
