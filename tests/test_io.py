"""Atomic writes: the permissions a new file would get, and nothing lost when a write fails."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from genstudio.storage import atomic_path, write_text

WRITE_UNDER_UMASK = """
import os, sys
os.umask(int(sys.argv[1], 8))
from genstudio.engine import experiment_file as ef
from genstudio.storage import write_text
from genstudio.config import default_experiment
from genstudio.engine.trainer import Cadence, Trainer
write_text(os.path.join(sys.argv[2], "notes.txt"), "hello")
trainer = Trainer(default_experiment("gan", threads=1), Cadence(snapshot_s=None, evaluate_at_end=False))
ef.save(os.path.join(sys.argv[2], "run.genstudio"), ef.ExperimentFile(trainer.exp, trainer.state()))
with open(os.path.join(sys.argv[2], "plain.txt"), "w") as fh:
    fh.write("plain")
"""


@pytest.mark.parametrize("umask, mode", [("022", 0o644), ("027", 0o640), ("002", 0o664)])
def test_written_files_get_the_umask_mode_of_a_new_file(tmp_path, umask, mode):
    """A teacher's shared folder: experiment files and exports are readable as the user's umask allows
    (mkstemp alone made them 0600 whatever the umask)."""
    subprocess.run([sys.executable, "-c", WRITE_UNDER_UMASK, umask, str(tmp_path)], check=True, timeout=120)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)
             for name in ("notes.txt", "run.genstudio", "plain.txt")}
    assert modes == {"notes.txt": mode, "run.genstudio": mode, "plain.txt": mode}


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "kept.txt"
    write_text(str(target), "old")
    with pytest.raises(RuntimeError):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("the disk filled up")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["kept.txt"]


def test_a_replaced_file_keeps_its_mode_and_the_write_reaches_the_disk(tmp_path, monkeypatch):
    target = tmp_path / "shared.genstudio"
    write_text(str(target), "old")
    os.chmod(target, 0o640)                       # a teacher made it readable by the class group only
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    write_text(str(target), "new")
    assert target.read_text() == "new" and stat.S_IMODE(os.stat(target).st_mode) == 0o640
    if sys.platform.startswith("linux"):          # the file's bytes before the rename, then the folder
        assert synced[-1] == str(tmp_path) and os.path.basename(synced[-2]).startswith(".tmp-")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_error_names_the_users_file_not_the_temporary_one(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(OSError) as info:
            write_text(str(folder / "run.csv"), "x")
    finally:
        os.chmod(folder, 0o755)
    assert info.value.filename == str(folder / "run.csv") and ".tmp-" not in str(info.value)


def test_an_error_while_writing_names_the_users_file(tmp_path):
    target = tmp_path / "run.csv"
    with pytest.raises(OSError) as info:
        with atomic_path(str(target)) as tmp:
            raise OSError(28, "No space left on device", tmp)
    assert info.value.filename == str(target) and info.value.errno == 28
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("platform,env,expected", [
    ("win32", {"LOCALAPPDATA": "C:/Users/t/Local"}, os.path.join("C:/Users/t/Local", "GenStudio", "Cache")),
    ("darwin", {}, os.path.join(os.path.expanduser("~"), "Library", "Caches", "GenStudio")),
    ("linux", {"XDG_CACHE_HOME": "/x/cache"}, os.path.join("/x/cache", "genstudio")),
    ("linux", {"GENSTUDIO_CACHE": "/mine"}, "/mine"),
])
def test_the_cache_is_where_each_platform_keeps_caches(monkeypatch, platform, env, expected):
    from genstudio import storage

    for name in ("GENSTUDIO_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(storage.sys, "platform", platform)
    assert storage.cache_root() == expected
