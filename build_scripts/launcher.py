"""The packaged app's entry point (build_scripts/genstudio.spec): `GenStudio` opens the window;
`GenStudio --self-test` is `genstudio gui --self-test`; any other arguments are the command line."""
import sys

if sys.platform == "win32":
    # torch's DLLs before Qt's: loaded the other way round, they clash in a frozen app on Windows
    import torch  # noqa: F401

from genstudio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
