"""MNIST and Fashion-MNIST for users who are online: downloaded once into the cache folder, checked by MD5.

A download streams into a temporary file beside the target and is renamed only once its checksum
matches, so a failed, partial or damaged download never sits under a final name. One file from one
mirror may take at most MAX_BYTES and DEADLINE seconds; past either, the next mirror is tried.
"""
from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..storage import atomic_path, cache_dir
from .importers import IMAGE_SIZES, DataError, auto_size, parse_idx, read_bytes, to_images

if TYPE_CHECKING:
    from . import Dataset

CHUNK = 64 * 1024
MAX_BYTES = 64 * 2**20   # per file: the largest real one (the train images) is under 10 MB
DEADLINE = 10 * 60.0     # seconds for one file from one mirror, however steadily the bytes drip in
MIN_RATE = 4 * 2**10     # bytes a second on average, once RATE_GRACE seconds have passed: a drip fails early
RATE_GRACE = 60.0
TMP_PATTERN = ".tmp-*.gz"  # the temporary files atomic_path makes for the .gz files here
STALE_AGE = 60 * 60.0    # seconds: an older temporary file belongs to a download that crashed
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class RemoteSet:
    label: str                       # for people: "MNIST"
    mirrors: tuple[str, ...]         # base URLs, tried in order; each + file name is a download
    md5: dict                        # file name -> MD5 (torchvision's datasets/mnist.py)
    label_names: tuple[str, ...]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.md5)


REMOTE_SETS: dict[str, RemoteSet] = {
    "mnist": RemoteSet(
        "MNIST",
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        dict(zip(FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                         "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        tuple(str(d) for d in range(10))),
    "fashion-mnist": RemoteSet(
        "Fashion-MNIST",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        dict(zip(FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                         "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot")),
}

Progress = Callable[[int, "int | None", str], None]


class _Failed(Exception):
    """One mirror could not deliver one file; `checksum` marks a damaged download."""

    def __init__(self, reason: str, checksum: bool = False):
        super().__init__(reason)
        self.checksum = checksum


def _remote(name: str) -> RemoteSet:
    if name not in REMOTE_SETS:
        raise DataError(f"{name}: unknown data set to download; choose one of: {', '.join(REMOTE_SETS)}")
    return REMOTE_SETS[name]


def default_folder(name: str) -> str:
    """Where `name` is downloaded to: <cache>/datasets/<name>/ (not created here)."""
    return os.path.join(cache_dir(), "datasets", name)


def is_cached(name: str, folder: str | None = None) -> bool:
    """Whether all 4 files are present (non-empty; the MD5 is checked by fetch, not here)."""
    _remote(name)
    folder = folder or default_folder(name)
    return all(os.path.isfile(p) and os.path.getsize(p) > 0 for p in (os.path.join(folder, f) for f in FILES))


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
        if not isinstance(exc, BaseException):
            return str(exc)
    if isinstance(exc, socket.gaierror):
        return "the server's name cannot be looked up (offline?)"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, (ConnectionError, http.client.HTTPException)):
        return f"the connection broke ({type(exc).__name__})"
    return " ".join(str(getattr(exc, "reason", None) or exc).split()) or type(exc).__name__


def _length(value: str | None) -> int | None:
    """A Content-Length header as http.client reads it: None when missing, malformed or negative."""
    try:
        length = int(value)
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _remove_stale(folder: str) -> None:
    """Remove the temporary files of downloads that crashed (killed, power cut) over STALE_AGE ago; a
    download running now in another process keeps its file."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if fnmatch.fnmatchcase(entry.name, TMP_PATTERN) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AGE:
                        os.unlink(entry.path)


def _download(url: str, path: str, md5: str, progress: Progress | None, timeout: float) -> None:
    """Stream `url` into `path` (atomically) and check its MD5; raises _Failed, also past MAX_BYTES or
    DEADLINE. Errors raised by `progress` (a cancel button) pass through unchanged, and leave nothing
    under `path`; so does every other way out."""
    fname = os.path.basename(path)
    request = urllib.request.Request(url, headers={"User-Agent": "GenStudio"})
    start = time.monotonic()
    with atomic_path(path) as tmp:
        digest = hashlib.md5(usedforsecurity=False)
        done = 0
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _Failed(_reason(exc, timeout)) from None
        with response, open(tmp, "wb") as out:
            total = _length(response.headers.get("Content-Length"))
            if progress:
                progress(0, total, fname)
            while True:
                try:
                    block = response.read1(CHUNK)  # whatever has arrived: read() would wait for all CHUNK bytes
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    raise _Failed(f"{_reason(exc, timeout)} after {done:,} bytes") from None
                if not block:
                    break
                done += len(block)
                if done > MAX_BYTES:
                    raise _Failed(f"sent more than {MAX_BYTES / 2**20:g} MB")
                out.write(block)
                digest.update(block)
                if progress:
                    progress(done, total, fname)
                elapsed = time.monotonic() - start  # checked between reads: at most `timeout` late
                if elapsed > DEADLINE:
                    raise _Failed(f"too slow: {done:,} bytes in {elapsed:.1f} s (the limit is {DEADLINE:g} s)")
                if elapsed > RATE_GRACE and done < MIN_RATE * elapsed:
                    raise _Failed(f"too slow: {done:,} bytes in {elapsed:.1f} s (under {MIN_RATE / 1024:g} KB/s)")
        if total is not None and done != total:
            raise _Failed(f"the connection broke after {done:,} of {total:,} bytes")
        if digest.hexdigest() != md5.lower():
            raise _Failed("checksum mismatch (the download is damaged)", checksum=True)


def fetch(name: str, folder: str | None = None, mirrors=None, checksums: dict | None = None,
          progress: Progress | None = None, timeout: float = 10) -> str:
    """Download the 4 files of `name` into `folder` (default: the cache) unless already there with the
    right MD5. progress(done_bytes, total_bytes or None, file_name) is called as bytes arrive.
    Returns the folder; raises DataError when no mirror delivers a good copy of some file."""
    remote = _remote(name)
    folder = folder or default_folder(name)
    mirrors = tuple(mirrors or remote.mirrors)
    checksums = {**remote.md5, **(checksums or {})}
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the download folder ({exc.strerror or exc})") from None
    _remove_stale(folder)
    for fname in FILES:
        path = os.path.join(folder, fname)
        md5 = checksums[fname]
        try:
            if os.path.isfile(path) and _md5(path) == md5.lower():
                continue
        except OSError:
            pass  # unreadable: download it again
        failures = []
        for base in mirrors:
            url = base if base.endswith(fname) else base.rstrip("/") + "/" + fname
            try:
                _download(url, path, md5, progress, timeout)
                break
            except _Failed as exc:  # whatever went wrong with this mirror: the next one may do
                failures.append((url, exc))
            except OSError as exc:  # writing into the folder failed: no mirror can fix that
                raise DataError(f"{path}: cannot write the download ({exc.strerror or exc})") from None
        else:
            reasons = "; ".join(f"{url}: {exc}" for url, exc in failures) or "no mirror to download from"
            advice = "Try again" if any(exc.checksum for _, exc in failures) else "Check the internet connection"
            raise DataError(f"cannot download {remote.label}: {reasons}. {advice}, or put the "
                            f"4 files from {mirrors[0] if mirrors else remote.mirrors[0]} into {folder}")
    return folder


def _read_pair(folder: str, prefix: str) -> tuple:
    images_name, labels_name = f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"
    images = parse_idx(read_bytes(os.path.join(folder, images_name), images_name), images_name)
    labels = parse_idx(read_bytes(os.path.join(folder, labels_name), labels_name), labels_name)
    if images.ndim != 3:
        raise DataError(f"{images_name}: not an images file: shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{labels_name}: {len(labels):,} labels for {len(images):,} images in {images_name}")
    return images, labels


def load_remote(name: str, size: int = 0, color: str = "auto", **fetch_kwargs) -> Dataset:
    """Fetch `name` (see fetch; its keyword arguments pass through), then read it as a Dataset:
    the train files give x and labels, the t10k files give held_out and held_out_labels."""
    from . import Dataset

    remote = _remote(name)
    if size not in (0, *IMAGE_SIZES):
        raise DataError(f"{name}: image size {size} is not one of {', '.join(map(str, IMAGE_SIZES))}")
    folder = fetch(name, **fetch_kwargs)
    train, train_labels = _read_pair(folder, "train")
    test, test_labels = _read_pair(folder, "t10k")
    size = size or auto_size(*train.shape[1:])
    x, size, color = to_images(train, FILES[0], size, color)
    held, _, _ = to_images(test, FILES[2], size, color)
    classes = len(remote.label_names)
    for labels, fname in ((train_labels, FILES[1]), (test_labels, FILES[3])):
        if labels.min() < 0 or labels.max() >= classes:
            raise DataError(f"{fname}: labels from {labels.min()} to {labels.max()}; "
                            f"{remote.label} has {classes} classes")
    return Dataset(name=name, kind="image", x=x, held_out=held, labels=train_labels[:len(x)].astype("int64"),
                   held_out_labels=test_labels[:len(held)].astype("int64"),
                   label_names=remote.label_names, levels=256, source=os.path.abspath(folder),
                   key=f"{name}-{size}-{color}")
