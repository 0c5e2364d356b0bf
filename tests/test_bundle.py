"""The desktop bundle. Building takes minutes and gigabytes, so CI checks what the spec names
against this environment; the frozen self-test runs when a bundle exists (dist/GenStudio) or
GENSTUDIO_BUILD_BUNDLE=1 asks for one to be built first."""
from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build_scripts"))
import build  # noqa: E402
import bundle  # noqa: E402


def test_every_file_and_module_the_spec_names_exists():
    assert os.path.isfile(bundle.ENTRY) and os.path.isfile(bundle.ICON_PNG)
    for source, _ in bundle.DATAS:
        assert os.path.exists(source), source
    for name in bundle.HIDDEN_IMPORTS:
        assert importlib.util.find_spec(name) is not None, name
    with open(os.path.join(ROOT, "build_scripts", "genstudio.spec"), encoding="utf-8") as fh:
        spec = ast.parse(fh.read())
    used = {node.attr for node in ast.walk(spec) if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name) and node.value.id == "bundle"}
    assert {"ENTRY", "DATAS", "HIDDEN_IMPORTS", "EXCLUDES", "dropped"} <= used


def test_the_app_never_imports_what_the_bundle_leaves_out(tmp_path, genstudio_cache):
    """Every module of the app and of the libraries it uses imported, a model of each family trained
    a step: none of the excluded modules loads (one that did would be missing from the bundle, and
    the frozen app would fail there; superqt imports pygments, for one)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "import genstudio, superqt, pyqtgraph.exporters, PIL.Image, safetensors.torch\n"
        "def walk(path, prefix):\n"
        "    for module in pkgutil.iter_modules(path, prefix):\n"
        "        if module.name != 'genstudio.bench':\n"
        "            imported = importlib.import_module(module.name)\n"
        "            if module.ispkg:\n"
        "                walk(imported.__path__, module.name + '.')\n"
        "walk(genstudio.__path__, 'genstudio.')\n"
        "import genstudio.ui.curves\n"
        "from genstudio.config import FAMILIES, default_experiment\n"
        "from genstudio.engine.trainer import Cadence, Trainer\n"
        "for family in FAMILIES:\n"
        "    list(Trainer(default_experiment(family, 'digits', steps=1, threads=1), Cadence(snapshot_s=None)).run())\n"
        "genstudio.ui.curves.ema([1.0, 2.0], 0.5)\n"
        f"excluded = {bundle.EXCLUDES!r}\n"
        "print('loaded:', sorted(m for m in excluded if m in sys.modules))\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GENSTUDIO_CACHE": str(genstudio_cache)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "loaded: []" in out.stdout


def test_what_is_dropped_from_the_bundle():
    assert bundle.dropped("torch/include/ATen/core/Tensor.h")
    assert bundle.dropped("torch/test/Dict_test") and bundle.dropped("torch/bin/protoc")
    assert not bundle.dropped("torch/bin/torch_shm_manager")  # `import torch` fails without it
    assert bundle.dropped("PySide6/Qt/translations/qt_de.qm")
    assert not bundle.dropped("torch/lib/libtorch_cpu.so")
    assert not bundle.dropped("torch/_dynamo/eval_frame.py")   # torch's own Python stays (Adam imports dynamo)
    assert not bundle.dropped("PySide6/Qt/plugins/platforms/libqxcb.so")
    assert not bundle.dropped("genstudio/resources/icon.png")


def test_libraries_only_a_dropped_plugin_needed_are_left_out():
    binaries = [("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
                ("libX11.so.6", "/usr/lib/libX11.so.6", "BINARY"), ("libxcb.so.1", "/usr/lib/libxcb.so.1", "BINARY"),
                ("libcairo.so.2", "/usr/lib/libcairo.so.2", "BINARY"),  # needed by the GTK theme only
                ("libpython3.11.so.1.0", "/usr/lib/libpython3.11.so.1.0", "BINARY"),
                ("lib-dynload/_ssl.so", "/py/_ssl.so", "EXTENSION")]
    links = {"/x/libqxcb.so": {"libX11.so.6"}, "/usr/lib/libX11.so.6": {"libxcb.so.1"}}
    kept = bundle.without_orphans(binaries, lambda source: links.get(source, set()))
    assert [dest for dest, _, _ in kept] == ["PySide6/Qt/plugins/platforms/libqxcb.so", "libX11.so.6", "libxcb.so.1",
                                            "libpython3.11.so.1.0", "lib-dynload/_ssl.so"]


def test_resources_are_found_from_source_and_frozen(monkeypatch, tmp_path):
    from genstudio import paths

    assert not paths.frozen() and os.path.isfile(paths.resource("icon.png"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resource("icon.png") == os.path.join(str(tmp_path), "genstudio", "resources", "icon.png")


def test_the_wheel_holds_only_genstudio(tmp_path):
    """`pip wheel .`: nothing else (a `benchmarks` package once shipped at the top level)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "runs", "__pycache__", "*.egg-info", ".pytest_cache"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q",
                           "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"genstudio", f"genstudio-{wheel.name.split('-')[1]}.dist-info"}
    resources = {f"genstudio/resources/{name}" for name in ("icon.png", "digits.csv.gz", "names.txt.gz")}
    assert resources <= set(names)


BUILD_ASKED = os.environ.get("GENSTUDIO_BUILD_BUNDLE") == "1"


@pytest.mark.skipif(not BUILD_ASKED and not os.path.exists(build.launcher()),
                    reason="no bundle in dist/ (python build_scripts/build.py, or GENSTUDIO_BUILD_BUNDLE=1)")
@pytest.mark.timeout(3600)
def test_the_frozen_app_passes_its_self_test(tmp_path):
    if BUILD_ASKED:
        assert build.main(["--no-smoke"]) == 0
    assert build.smoke_test(build.launcher(), str(tmp_path))
    assert (tmp_path / "ar-names.png").exists()
