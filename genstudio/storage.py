"""Files: atomic writes (write beside the target, then rename; a crash leaves the old file intact) and
the user's cache folder. No torch here: the window imports this before torch loads."""
from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only portable read sets it too: put it straight back
    os.umask(mask)
    return mask


# Read once, at import (before any thread): new files get the mode the user's umask gives, as a plain
# open() would; mkstemp alone makes them 0600, and a class sharing a folder could not open them.
NEW_FILE_MODE = 0o666 & ~_read_umask()


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path in the target's folder; on success it replaces `path` atomically. The new
    file keeps the mode of the file it replaces (else the user's umask gives it one), and its bytes and
    the rename are on the disk before this returns, so a power cut leaves the old file or the new one.
    An error names `path` (the user's file), not the temporary one."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # say so about the folder, not about the temporary file's name
        raise FileNotFoundError(errno.ENOENT, "no such folder", folder)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    except OSError as exc:   # a read-only folder, a full disk
        raise OSError(exc.errno, exc.strerror, path) from None
    os.close(fd)
    try:
        yield tmp
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = NEW_FILE_MODE
        os.chmod(tmp, mode)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename == tmp:
            raise OSError(exc.errno, exc.strerror, path) from None
        raise


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: str) -> None:
    """The rename itself on the disk (POSIX; Windows cannot open a folder, and its rename is journalled)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        _fsync(folder)


def write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)


def cache_root() -> str:
    """Where the platform keeps an application's caches (GENSTUDIO_CACHE overrides): Windows
    %LOCALAPPDATA%\\GenStudio\\Cache, macOS ~/Library/Caches/GenStudio, elsewhere $XDG_CACHE_HOME
    (~/.cache)/genstudio."""
    if os.environ.get("GENSTUDIO_CACHE"):
        return os.environ["GENSTUDIO_CACHE"]
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return os.path.join(base, "GenStudio", "Cache")
    if sys.platform == "darwin":
        return os.path.join(os.path.expanduser("~"), "Library", "Caches", "GenStudio")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "genstudio")


def cache_dir(*parts: str) -> str:
    """The user's GenStudio cache folder (cache_root), or a subfolder of it; created if missing."""
    folder = os.path.join(cache_root(), *parts)
    os.makedirs(folder, exist_ok=True)
    return folder
