"""`genstudio` / `python -m genstudio`: the window with no arguments, else the command line."""
import multiprocessing
import os
import sys

WINDOW_COMMANDS = (None, "gui", "--self-test", "--screenshots")


def main() -> int:
    multiprocessing.freeze_support()  # first, for the frozen (PyInstaller) app
    first = sys.argv[1] if len(sys.argv) > 1 else None
    if first in WINDOW_COMMANDS or (first is not None and os.path.exists(first)):   # `genstudio FILE`: the window
        from .live.forkserver import start_early
        start_early()  # the training processes' server imports torch while the window builds
    from .cli import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
