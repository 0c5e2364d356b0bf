"""Build the desktop app as one folder, dist/GenStudio/, and smoke-test it.

    pip install -c constraints.txt -e ".[bundle]"
    python build_scripts/build.py              # build, report size and time, run the frozen self-test
    python build_scripts/build.py --archive    # also dist/GenStudio-<platform>.tar.gz (or .zip on Windows)
    python build_scripts/build.py --smoke-only # run the self-test of the bundle already built

The bundle is built from the installed environment: with the CPU build of torch installed it is a
CPU bundle, with the CUDA build a GPU one. What it holds is listed in build_scripts/bundle.py.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bundle  # noqa: E402

DIST = os.path.join(bundle.ROOT, "dist")
WORK = os.path.join(bundle.ROOT, "build", "pyinstaller")
SMOKE_TIMEOUT_S = 1200


def launcher(dist: str = DIST, console: bool = False) -> str:
    """The app's launcher; `console`: the one whose output reaches a terminal (its own on Windows)."""
    if sys.platform == "win32":
        return os.path.join(dist, bundle.NAME, (bundle.CONSOLE_NAME if console else bundle.NAME) + ".exe")
    return os.path.join(dist, bundle.NAME, bundle.NAME)


def folder_size(path: str) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total


def platform_icon() -> str | None:
    """The PNG as the platform's icon format (PyInstaller wants .ico on Windows, .icns on macOS)."""
    suffix = {"win32": ".ico", "darwin": ".icns"}.get(sys.platform)
    if suffix is None:
        return None
    from PIL import Image
    os.makedirs(WORK, exist_ok=True)
    out = os.path.join(WORK, "icon" + suffix)
    Image.open(bundle.ICON_PNG).save(out)
    return out


def build() -> float:
    if importlib.util.find_spec("PyInstaller") is None:
        sys.exit('build.py: error: PyInstaller is not installed: pip install -c constraints.txt -e ".[bundle]"')
    env = dict(os.environ)
    icon = platform_icon()
    if icon:
        env["GENSTUDIO_ICON"] = icon
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                           "--distpath", DIST, "--workpath", WORK,
                           os.path.join(bundle.ROOT, "build_scripts", "genstudio.spec")], env=env)
    if done.returncode != 0:
        sys.exit(f"build.py: error: PyInstaller failed (exit {done.returncode})")
    return time.perf_counter() - began


def archive() -> str:
    base = os.path.join(DIST, f"{bundle.NAME}-{sys.platform}-{platform.machine().lower()}")
    if sys.platform == "win32":
        return shutil.make_archive(base, "zip", DIST, bundle.NAME)
    with tarfile.open(base + ".tar.gz", "w:gz", compresslevel=6) as tar:
        tar.add(os.path.join(DIST, bundle.NAME), arcname=bundle.NAME)
    return base + ".tar.gz"


def smoke_test(exe: str, screenshots: str | None = None) -> bool:
    """The frozen app's `--self-test`: every family trained, every view driven, an experiment file
    saved and reopened. Offscreen unless a screen is given (DISPLAY, or QT_QPA_PLATFORM set)."""
    if not os.path.exists(exe):
        print(f"build.py: error: no bundle at {exe}: build it first", file=sys.stderr)
        return False
    env = dict(os.environ)
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    command = [exe, "--self-test"] + (["--screenshots", screenshots] if screenshots else [])
    began = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, timeout=SMOKE_TIMEOUT_S, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        print(f"smoke test: FAILED: no exit after {SMOKE_TIMEOUT_S} s", file=sys.stderr)
        return False
    took = time.perf_counter() - began
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        print("smoke test: FAILED (exit {}) in {:.0f} s:\n  {}".format(done.returncode, took, "\n  ".join(tail)),
              file=sys.stderr)
        return False
    print(f"smoke test: passed in {took:.0f} s ({exe} --self-test)")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", action="store_true", help="also pack the folder (.tar.gz, .zip on Windows)")
    parser.add_argument("--no-smoke", action="store_true", help="skip the frozen self-test")
    parser.add_argument("--smoke-only", action="store_true", help="only run the self-test of the existing bundle")
    parser.add_argument("--screenshots", metavar="DIR", help="the self-test saves its pictures here")
    args = parser.parse_args(argv)
    exe = launcher()
    if not args.smoke_only:
        took = build()
        folder = os.path.dirname(exe)
        print(f"built {folder} in {took / 60:.1f} min: {folder_size(folder) / 1e6:,.0f} MB")
        if args.archive:
            packed = archive()
            print(f"archive: {packed}: {os.path.getsize(packed) / 1e6:,.0f} MB")
        print(f"launch it: {exe}")
    if args.no_smoke:
        return 0
    return 0 if smoke_test(launcher(console=True), args.screenshots) else 1


if __name__ == "__main__":
    sys.exit(main())
