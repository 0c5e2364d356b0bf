"""MNIST-style downloads against a local HTTP server on 127.0.0.1 (the `served` fixture in conftest.py):
no test reaches the internet."""
from __future__ import annotations

import hashlib
import os
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
    assert "checksum mismatch for train-labels-idx1-ubyte.gz" in message and server.url in message
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


def test_a_cancelled_download_leaves_nothing(served, tmp_path):
    server, md5, _ = served
    folder = str(tmp_path / "m")

    class Cancelled(Exception):
        pass

    def progress(done, total, name):
        if done > 0:
            raise Cancelled()
    with pytest.raises(Cancelled):
        fetch("mnist", folder=folder, mirrors=[server.url], checksums=md5, progress=progress)
    assert listing(folder) == []


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
