"""What goes into the desktop bundle, as data: genstudio.spec builds from these lists, and
tests/test_bundle.py checks each of them against the installed environment without building."""
from __future__ import annotations

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "GenStudio"
CONSOLE_NAME = "genstudio-cli"   # Windows only: the command line's launcher, with a console
ENTRY = os.path.join(ROOT, "build_scripts", "launcher.py")
ICON_PNG = os.path.join(ROOT, "genstudio", "resources", "icon.png")

# (source, folder inside the bundle): GenStudio's resources, found at run time by genstudio/paths.py,
# and the licences: GenStudio's and the notices of what the bundle ships
DATAS = [(os.path.join(ROOT, "genstudio", "resources"), os.path.join("genstudio", "resources")),
         (os.path.join(ROOT, "LICENSE"), "."), (os.path.join(ROOT, "THIRD_PARTY_NOTICES.md"), ".")]

# imported by name at run time, where PyInstaller's scan cannot see them: the training processes'
# forkserver preloads modules from a list of strings (genstudio/live/forkserver.py, PRELOAD)
HIDDEN_IMPORTS = [
    "multiprocessing.forkserver", "multiprocessing.popen_forkserver", "multiprocessing.popen_spawn_posix",
    "genstudio.live.training_process", "genstudio.engine.trainer", "genstudio.data", "torch._dynamo",
]

# Whole modules left out: none of torch's own Python modules (every torch optimiser imports torch._dynamo,
# which imports sympy; a bundle without them fails at the first training step).
EXCLUDES = [
    "tkinter", "IPython", "matplotlib", "pytest", "_pytest", "pytestqt", "PyInstaller", "setuptools", "pip",
    "PIL._avif", "PIL.AvifImagePlugin", "PIL._webp", "PIL.WebPImagePlugin", "PIL._imagingtk", "PIL.ImageTk",
    "genstudio.bench",   # `genstudio bench` runs from a source install; the bundle runs the app
    "sklearn", "scipy",     # torch and the tests may import them when installed; the app does not (80 MB)
    "imageio_ffmpeg",       # its ffmpeg is 173 MB: MP4 export uses an ffmpeg on the PATH instead; GIF needs none
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtPdf", "PySide6.QtDBus",
    "PySide6.QtSql", "PySide6.QtConcurrent", "PySide6.QtXml", "PySide6.QtPrintSupport",
    "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools",
]

# Files dropped from what the hooks collected (matched against the path inside the bundle):
# headers, static libraries, torch's C++ tests, Qt translations and plugins a desktop window does not use
DROP_PATTERNS = [
    "torch/include/", "torch/share/cmake/", "torch/test/", "torch/bin/", "/tests/",
    "torch/lib/libjitbackend_test", "torch/lib/libtorchbind_test", "torch/lib/libbackend_with_compiler",
    "torch/lib/libaoti_custom_ops",
    ".a", ".lib", ".h", ".hpp", ".cuh", ".pyi",
    "PySide6/Qt/translations/", "PySide6/translations/",
    "PySide6/Qt/plugins/sqldrivers/", "PySide6/Qt/plugins/networkinformation/", "PySide6/Qt/plugins/tls/",
    "PySide6/Qt/plugins/qmltooling/", "PySide6/Qt/plugins/designer/", "PySide6/Qt/plugins/multimedia/",
    "PySide6/Qt/plugins/virtualkeyboard/", "PySide6/Qt/plugins/position/", "PySide6/Qt/plugins/sceneparsers/",
    "PySide6/Qt/plugins/platformthemes/libqgtk3",  # GTK's look on GNOME: it brings cairo, pango, gdk (10 MB)
]


# ...except these: `import torch` checks that its shared-memory manager exists
KEEP = ["torch/bin/torch_shm_manager"]


def dropped(dest: str) -> bool:
    dest = dest.replace(os.sep, "/")
    if any(dest.endswith(keep) for keep in KEEP):
        return False
    for pattern in DROP_PATTERNS:
        if pattern.startswith("."):
            if dest.endswith(pattern):
                return True
        elif pattern in dest:
            return True
    return False


def without_orphans(binaries: list[tuple], imports) -> list[tuple]:
    """The collected binaries less the top-level shared libraries that nothing kept needs any more
    (PyInstaller collected them for something dropped above). `binaries` holds (dest, source, kind)
    entries; `imports(source)` names the libraries a binary links to. Everything inside a package
    folder, Python's extension modules and libpython (the launcher loads it) are kept."""
    candidates = {dest: source for dest, source, kind in binaries
                  if kind == "BINARY" and "/" not in dest.replace(os.sep, "/") and not dest.startswith("libpython")}
    wanted, todo = set(), [source for dest, source, kind in binaries if dest not in candidates]
    while todo:
        for name in imports(todo.pop()):
            if name in candidates and name not in wanted:
                wanted.add(name)
                todo.append(candidates[name])
    return [entry for entry in binaries if entry[0] not in candidates or entry[0] in wanted]


# Linux: libraries whose symbol tables are stripped (what the dynamic linker needs stays):
# libtorch_cpu.so goes from 434 to 345 MB. Not every library: stripping numpy's OpenBLAS leaves it
# unloadable ("ELF load command address/offset not page-aligned"), so PyInstaller's strip=True is off.
STRIP = ["torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so"]


def strip_it(dest: str) -> bool:
    return dest.replace(os.sep, "/") in STRIP


def stripped_copy(source: str, folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    out = os.path.join(folder, os.path.basename(source))
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(source):
        subprocess.run(["strip", "--strip-unneeded", source, "-o", out], check=True)
    return out
