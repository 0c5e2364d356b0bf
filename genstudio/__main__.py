"""`genstudio` / `python -m genstudio`: the window with no arguments, else the command line."""
import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()  # first, for the frozen (PyInstaller) app
    from .cli import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
