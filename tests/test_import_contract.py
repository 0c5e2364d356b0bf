"""Only genstudio/ui (the window) and genstudio/bench (which drives it) may import Qt, pyqtgraph or
superqt: the engine, the live runs and the CLI run headless. And every module in ui imports Qt: a
Qt-free module belongs to a layer below, where these checks cover it."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import genstudio

GUI_MODULES = ("PySide6", "pyqtgraph", "superqt", "shiboken6")
PACKAGE = os.path.dirname(genstudio.__file__)


def test_headless_modules_do_not_load_qt(tmp_path, genstudio_cache):
    script = textwrap.dedent(f"""
        import sys
        import genstudio, genstudio.config, genstudio.data, genstudio.models
        import genstudio.engine.trainer, genstudio.engine.checkpoint, genstudio.cli
        from genstudio.config import default_experiment
        from genstudio.engine.trainer import Cadence, Trainer
        from genstudio.engine.events import Finished

        exp = default_experiment("vae", "ring8", steps=5, device="cpu", threads=1)
        events = list(Trainer(exp, Cadence(snapshot_s=None)).run())
        assert isinstance(events[-1], Finished) and events[-1].step == 5, events[-1]
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {GUI_MODULES!r})
        print("GUI modules:", loaded)
        sys.exit(1 if loaded else 0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**os.environ, "GENSTUDIO_CACHE": str(genstudio_cache)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "GUI modules: []" in done.stdout


def _imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            # importlib.import_module("PySide6...") / __import__("PySide6")
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


QT_LAYERS = ("ui", "bench")
# the only modules in ui without a Qt import: package markers
QT_FREE_IN_UI = {"ui/__init__.py", "ui/views/__init__.py"}


def package_sources(root: str = PACKAGE):
    """(path inside the package, source path) of every module."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, root).replace(os.sep, "/"), path


def _qt_offences(root: str = PACKAGE) -> list[str]:
    """GUI imports outside ui and bench, and modules in ui that import no Qt."""
    offences = []
    for rel, path in package_sources(root):
        with open(path, encoding="utf-8") as fh:
            gui = sorted(m for m in _imported_modules(ast.parse(fh.read(), path)) if m.split(".")[0] in GUI_MODULES)
        layer = rel.split("/")[0]
        if gui and layer not in QT_LAYERS:
            offences.extend(f"{rel}: {m}" for m in gui)
        elif not gui and layer == "ui" and rel not in QT_FREE_IN_UI:
            offences.append(f"{rel}: no Qt (it belongs below ui)")
    return offences


def test_qt_only_in_ui_and_bench_and_every_ui_module_uses_it():
    assert len(list(package_sources())) > 40  # the walk found the package
    assert _qt_offences() == []


def test_the_qt_check_can_fail(tmp_path):
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "run.py").write_text("from PySide6.QtCore import QObject\n")
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "helpers.py").write_text("import os\n")
    (tmp_path / "ui" / "pane.py").write_text("import pyqtgraph\n")
    assert sorted(_qt_offences(str(tmp_path))) == ["live/run.py: PySide6.QtCore",
                                                   "ui/helpers.py: no Qt (it belongs below ui)"]


def test_the_static_check_can_fail():
    tree = ast.parse("import os\nfrom PySide6.QtCore import QObject\nimport importlib\n"
                     "importlib.import_module('pyqtgraph')\nfrom . import ui\n")
    assert {"PySide6.QtCore", "pyqtgraph", "os", "importlib"} <= _imported_modules(tree)


def test_the_window_module_does_not_import_torch():
    """The window paints before torch (the worker imports it) and pyqtgraph (the plots are built
    just after the first paint) load."""
    code = ("import sys; from genstudio.ui.main_window import MainWindow; "
            "print(sorted(m for m in ('torch', 'sklearn', 'scipy', 'pyqtgraph') if m in sys.modules))")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"


def test_the_views_and_their_requests_do_not_import_torch():
    """The explorer thread imports torch; a GUI-thread import that reached torch would wait for it
    on the import lock (1.4 s of frozen window at the start of a first run, measured)."""
    code = ("import sys; from genstudio.ui.views import autoregressive, diffusion, gan, vae; "
            "from genstudio.engine import requests; print('torch' in sys.modules)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "False"


def test_the_thread_modules_do_not_load_qt():
    """ui/threads.py's rule: the training and explorer threads (and the training process) never touch
    Qt. Their modules cannot even reach it."""
    code = ("import sys; import genstudio.live.worker, genstudio.live.training_process, genstudio.live.explorer; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# The layers, lowest first: a module may import its own layer and those below, never one above.
LAYERS = {"__init__": 0, "storage": 0, "paths": 0, "resources": 0, "desktop_entry": 0,
          "data": 1, "config": 1, "lessons": 1, "models": 2, "engine": 3, "live": 4, "ui": 5, "bench": 6,
          "cli": 7, "__main__": 7}


def _genstudio_imports(tree: ast.AST, parts: list[str]) -> set[str]:
    """The genstudio top-level parts (data, models, ...) that the module at `parts` (its path inside
    the package) imports, relative imports resolved."""
    package = parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [a.name for a in node.names][:1])
            if target:
                found.add(target[0])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found.update(n.split(".")[1] for n in names if n.startswith("genstudio.") and n.count(".") >= 1)
    return found


def _layer_offences(root: str = PACKAGE) -> list[str]:
    offences = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            own = os.path.relpath(path, root).split(os.sep)[0].removesuffix(".py")
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
            for part in _genstudio_imports(tree, os.path.relpath(path, root).split(os.sep)):
                if LAYERS.get(part.removesuffix(".py"), 0) > LAYERS[own]:
                    offences.append(f"{os.path.relpath(path, root)} imports genstudio.{part}")
    return sorted(offences)


def test_no_module_imports_a_layer_above_its_own():
    """storage -> data (with config, which names the data sets) -> models -> engine -> live -> ui -> bench ->
    the command line."""
    assert set(LAYERS) >= {name.removesuffix(".py") for name in os.listdir(PACKAGE)
                           if name.endswith(".py") or os.path.isdir(os.path.join(PACKAGE, name, ""))} - {"__pycache__"}
    assert _layer_offences() == []


def test_the_layer_check_can_fail(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "download.py").write_text("from ..engine.io import cache_dir\nimport genstudio.ui.app\n")
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "render.py").write_text("from ..storage import atomic_path\nfrom . import io\n")
    assert _layer_offences(str(tmp_path)) == ["data/download.py imports genstudio.engine",
                                              "data/download.py imports genstudio.ui"]
