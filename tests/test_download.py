"""MNIST-style downloads against a local HTTP server on 127.0.0.1 (the `served` fixture in conftest.py):
no test reaches the internet."""
from __future__ import annotations

import hashlib
import os
import re
import socket
import time

import numpy as np
import pytest

from genstudio.data import download
from genstudio.data.download import FILES, REMOTE_SETS, fetch, is_cached, load_remote
from genstudio.data.importers import DataError, preview_summary


def dead_url() -> str:
    """A port that was open a moment ago and is closed now: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_good_download_and_load(served, tmp_path):
    server, md5, arrays = served
    folder = str(tmp_path / "mnist")
    calls = []
    assert not is_cached("mnist", folder)
    got = fetch("mnist", folder=folder, mirrors=[server.url], checksums=md5, progress=lambda *a: calls.append(a))
    assert got == folder and listing(folder) == sorted(FILES) and is_cached("mnist", folder)
    for fname in FILES:
        size = os.path.getsize(os.path.join(folder, fname))
        mine = [c for c in calls if c[2] == fname]
        assert mine[-1] == (size, size, fname)  # done == total at the end
        assert [c[0] for c in mine] == sorted(c[0] for c in mine)  # bytes only grow
    ds = load_remote("mnist", folder=folder, mirrors=[server.url], checksums=md5)
    assert ds.name == "mnist" and ds.kind == "image" and ds.levels == 256
    assert ds.x.shape == (50, 1, 28, 28) and ds.held_out.shape == (20, 1, 28, 28) and ds.x.dtype == np.float32
    train, test = arrays["train"], arrays["t10k"]
    np.testing.assert_array_equal(np.rint(ds.x[:, 0] * 255), train[0])  # the train files, in order
    np.testing.assert_array_equal(np.rint(ds.held_out[:, 0] * 255), test[0])  # held out = t10k, not a split
    np.testing.assert_array_equal(ds.labels, train[1]) and np.testing.assert_array_equal(ds.held_out_labels, test[1])
    assert ds.labels.dtype == np.int64 and ds.label_names == tuple("0123456789")
    assert ds.key == "mnist-28-grey" and ds.source == os.path.abspath(folder)
    assert preview_summary(ds) == "70 images 28x28 grey, 10 labels (0-9)"
    small = load_remote("mnist", size=16, color="rgb", folder=folder, mirrors=[server.url], checksums=md5)
    assert small.x.shape == (50, 3, 16, 16) and small.key == "mnist-16-rgb"


def test_default_folder_is_in_the_cache(served, tmp_path, monkeypatch):
    server, md5, _ = served
    monkeypatch.setenv("GENSTUDIO_CACHE", str(tmp_path / "cache"))
    folder = fetch("fashion-mnist", mirrors=[server.url], checksums=md5)
    assert folder == os.path.join(str(tmp_path / "cache"), "datasets", "fashion-mnist")
    assert is_cached("fashion-mnist") and not is_cached("mnist")
    ds = load_remote("fashion-mnist", mirrors=[server.url], checksums=md5)
    assert ds.label_names == REMOTE_SETS["fashion-mnist"].label_names and ds.label_names[9] == "Ankle boot"
    assert ds.name == "fashion-mnist" and ds.key == "fashion-mnist-28-grey"


def test_second_call_uses_the_cache(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")
    fetch("mnist", folder=folder, mirrors=[server.url], checksums=md5)
    server.stop()
    calls = []
    ds = load_remote("mnist", folder=folder, mirrors=[server.url], checksums=md5, progress=lambda *a: calls.append(a))
    assert calls == [] and len(ds.x) == 50


def test_bad_checksum_leaves_nothing(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")
    wrong = {**md5, "train-labels-idx1-ubyte.gz": "0" * 32}
    with pytest.raises(DataError) as info:
        fetch("mnist", folder=folder, mirrors=[server.url], checksums=wrong)
    message = str(info.value)
    assert f"{server.url}train-labels-idx1-ubyte.gz: checksum mismatch (the download is damaged). Try again" in message
    assert "\n" not in message
    assert listing(folder) == ["train-images-idx3-ubyte.gz"]  # the good file before it; no temp file, no bad file


def test_server_gone_fails_fast_and_clearly(tmp_path):
    folder = str(tmp_path / "m")
    url = dead_url()
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        fetch("mnist", folder=folder, mirrors=[url], timeout=2)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert message.startswith("cannot download MNIST: ") and "Check the internet connection" in message
    assert url in message and folder in message and "\n" not in message
    assert listing(folder) == []


def test_stopped_server(served, tmp_path):
    server, md5, _ = served
    server.stop()
    with pytest.raises(DataError, match="cannot download MNIST"):
        fetch("mnist", folder=str(tmp_path / "m"), mirrors=[server.url], checksums=md5, timeout=2)


def test_http_error_and_broken_connection_are_reported(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")
    with pytest.raises(DataError, match="HTTP 404"):
        fetch("mnist", folder=folder, mirrors=[server.url + "nothing/here/"], checksums=md5)
    with pytest.raises(DataError, match="connection broke after 102 of 100,000 bytes"):
        fetch("mnist", folder=folder, mirrors=[server.url + "short/"], checksums=md5)
    assert listing(folder) == []


def test_next_mirror_after_a_failure(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")
    mirrors = [dead_url(), server.url + "missing/", server.url + "short/", server.url]
    fetch("mnist", folder=folder, mirrors=mirrors, checksums=md5, timeout=2)
    assert listing(folder) == sorted(FILES)


def test_damaged_cached_file_is_downloaded_again(served, tmp_path):
    server, md5, arrays = served
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"half a file")
    assert not is_cached("mnist", str(folder))
    fetch("mnist", folder=str(folder), mirrors=[server.url], checksums=md5)
    assert hashlib.md5((folder / "t10k-labels-idx1-ubyte.gz").read_bytes()).hexdigest() == md5[FILES[3]]


class Cancelled(Exception):
    pass


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stop", [Cancelled, KeyboardInterrupt])
@pytest.mark.parametrize("route, at", [("", 1), ("", 0), ("endless/", 300_000)])
def test_a_cancelled_download_leaves_nothing(served, tmp_path, stop, route, at):
    """A cancel from the progress callback passes through unchanged (it is no failure of a mirror), from the first
    call (0 bytes) or in the middle of a body, and leaves no temporary file."""
    server, md5, _ = served
    folder = str(tmp_path / "m")

    def progress(done, total, name):
        if done >= at:
            raise stop()
    with pytest.raises(stop):
        fetch("mnist", folder=folder, mirrors=[server.url + route, server.url], checksums=md5, progress=progress)
    assert listing(folder) == []


def test_a_cancel_in_the_second_file_keeps_the_first(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")

    def progress(done, total, name):
        if name == FILES[1]:
            raise KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        fetch("mnist", folder=folder, mirrors=[server.url], checksums=md5, progress=progress)
    assert listing(folder) == [FILES[0]]


@pytest.mark.timeout(60)
def test_an_endless_body_stops_at_the_cap(served, tmp_path, monkeypatch):
    server, md5, _ = served
    monkeypatch.setattr(download, "MAX_BYTES", 2**20)
    folder = str(tmp_path / "m")
    seen = []
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        fetch("mnist", folder=folder, mirrors=[server.url + "endless/"], checksums=md5,
              progress=lambda done, total, name: seen.append((done, total)))
    assert time.monotonic() - start < 10
    assert f"{server.url}endless/{FILES[0]}: sent more than 1 MB. Check the internet connection" in str(info.value)
    assert max(done for done, _ in seen) <= 2**20 and {total for _, total in seen} == {None}
    assert listing(folder) == []
    fetch("mnist", folder=folder, mirrors=[server.url + "endless/", server.url], checksums=md5)  # the next mirror
    assert listing(folder) == sorted(FILES)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("limits, why", [({"DEADLINE": 0.5, "MIN_RATE": 0}, "(the limit is 0.5 s)"),
                                         ({"DEADLINE": 60.0, "RATE_GRACE": 0.5, "MIN_RATE": 2048}, "(under 2 KB/s)")])
def test_a_slow_drip_ends_and_the_next_mirror_is_tried(served, tmp_path, monkeypatch, limits, why):
    """The server sends a byte every 50 ms: each read answers well within the timeout, the whole never would."""
    server, md5, _ = served
    for name, value in limits.items():
        monkeypatch.setattr(download, name, value)
    folder = str(tmp_path / "m")
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        fetch("mnist", folder=folder, mirrors=[server.url + "drip/"], checksums=md5)
    assert 0.5 <= time.monotonic() - start < 3
    message = str(info.value)
    url = re.escape(f"{server.url}drip/{FILES[0]}")
    assert re.search(rf"{url}: too slow: \d+ bytes in [\d.]+ s {re.escape(why)}\. Check", message)
    assert listing(folder) == []
    start = time.monotonic()
    fetch("mnist", folder=folder, mirrors=[server.url + "drip/", server.url], checksums=md5)
    assert time.monotonic() - start < 4 * 2.5 and listing(folder) == sorted(FILES)


@pytest.mark.parametrize("value", ["%C2%B2", "-5", "12abc", "%20", "1e3"])
def test_a_bad_content_length_is_an_unknown_size(served, tmp_path, value):
    """A malformed or negative length is no error: the file downloads from that same mirror, and progress
    goes without a total."""
    server, md5, _ = served
    folder = str(tmp_path / "m")
    totals = set()
    fetch("mnist", folder=folder, mirrors=[server.url + f"length/{value}/", server.url], checksums=md5,
          progress=lambda done, total, name: totals.add(total))
    assert totals == {None} and listing(folder) == sorted(FILES)  # the good mirror would have given totals


def test_a_bad_content_length_still_falls_back(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")
    wrong = {**md5, FILES[0]: "0" * 32}
    with pytest.raises(DataError) as info:
        fetch("mnist", folder=folder, mirrors=[server.url + "length/%C2%B2/", server.url], checksums=wrong)
    message = str(info.value)
    assert message.count("checksum mismatch") == 2 and f"{server.url}length/%C2%B2/{FILES[0]}: " in message
    assert listing(folder) == []


@pytest.mark.timeout(60)
def test_every_mirror_is_named_with_its_reason(served, tmp_path, monkeypatch):
    server, md5, _ = served
    monkeypatch.setattr(download, "MAX_BYTES", 2**20)
    monkeypatch.setattr(download, "DEADLINE", 0.5)
    dead, folder = dead_url(), str(tmp_path / "m")
    mirrors = [dead, server.url + "missing/", server.url + "short/", server.url + "endless/", server.url + "drip/"]
    with pytest.raises(DataError) as info:
        fetch("mnist", folder=folder, mirrors=mirrors, checksums=md5, timeout=2)
    message = str(info.value)
    assert message.startswith(f"cannot download MNIST: {dead}{FILES[0]}: the connection was refused; "
                              f"{server.url}missing/{FILES[0]}: the server answered HTTP 404 File not found; "
                              f"{server.url}short/{FILES[0]}: the connection broke after 102 of 100,000 bytes; "
                              f"{server.url}endless/{FILES[0]}: sent more than 1 MB; "
                              f"{server.url}drip/{FILES[0]}: too slow: ")
    assert message.endswith(f". Check the internet connection, or put the 4 files from {dead} into {folder}")
    assert "\n" not in message and listing(folder) == []


def test_stale_temporary_files_are_removed(served, tmp_path):
    """Leftovers of a crashed download go; a fresh one (another process downloading now) and files that are
    not this module's own stay."""
    server, md5, _ = served
    folder = tmp_path / "m"
    folder.mkdir()
    hours_ago = time.time() - 2 * 3600
    for name in (".tmp-crashed1.gz", ".tmp-running.gz", ".tmp-notes.txt", "mine.gz"):
        (folder / name).write_bytes(b"x")
        if name != ".tmp-running.gz":
            os.utime(folder / name, (hours_ago, hours_ago))
    fetch("mnist", folder=str(folder), mirrors=[server.url], checksums=md5)
    assert listing(folder) == sorted([*FILES, ".tmp-running.gz", ".tmp-notes.txt", "mine.gz"])


def test_reasons_read_plainly():
    import urllib.error
    assert "offline?" in download._reason(urllib.error.URLError(socket.gaierror(-2, "Name or service not known")), 10)
    assert download._reason(urllib.error.URLError(TimeoutError("timed out")), 2) == "no answer within 2 s"
    assert download._reason(TimeoutError(), 2.5) == "no answer within 2.5 s"
    assert download._reason(urllib.error.URLError(ConnectionRefusedError(111, "x")), 2) == "the connection was refused"


def test_remote_sets_are_complete():
    for _name, remote in REMOTE_SETS.items():
        assert remote.files == FILES and len(remote.label_names) == 10 and remote.mirrors
        assert all(len(v) == 32 and int(v, 16) >= 0 for v in remote.md5.values())
        assert all(m.startswith(("http://", "https://")) and m.endswith("/") for m in remote.mirrors)
    assert REMOTE_SETS["mnist"].md5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert REMOTE_SETS["mnist"].mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert REMOTE_SETS["fashion-mnist"].label == "Fashion-MNIST"
    with pytest.raises(DataError, match="unknown data set"):
        fetch("cifar", folder="unused")
    assert download.default_folder("mnist").endswith(os.path.join("datasets", "mnist"))
