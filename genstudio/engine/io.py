"""Files: atomic writes (write beside the target, then rename; a crash leaves the old file intact) and
the user's cache folder. No torch here: the window imports this before torch loads."""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path in the target's folder; on success it replaces `path` atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # say so about the folder, not about the temporary file's name
        raise FileNotFoundError(errno.ENOENT, "no such folder", folder)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)


def cache_dir(*parts: str) -> str:
    """The user's GenStudio cache folder (GENSTUDIO_CACHE, else XDG_CACHE_HOME or ~/.cache, then
    genstudio), or a subfolder of it; created if missing."""
    root = os.environ.get("GENSTUDIO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "genstudio")
    folder = os.path.join(root, *parts)
    os.makedirs(folder, exist_ok=True)
    return folder
