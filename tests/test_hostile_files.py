"""Well-formed but hostile or huge files: each is refused with one clear DataError (or imported and cut, where
that is the documented behaviour) in bounded memory and time.

Each import runs in a fresh Python process that measures itself: the tracemalloc peak (Python and numpy) and the
growth of its resident set (what C code such as Pillow and zlib allocates, which tracemalloc never sees). It runs
under an address-space limit and a timeout, so an importer that regresses fails the test instead of taking the
machine's memory or hanging it.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from genstudio.data import importers
from genstudio.data.importers import DataError, import_path

MIB = 1024 ** 2
PEAK_LIMIT = 128 * MIB   # above what the process held before the import, by either measure
TIME_LIMIT = 5.0         # seconds for the import itself (a loaded 2-core machine included)

CHILD = r"""
import json, resource, sys, time, tracemalloc, warnings
try:  # a regression fails here, instead of taking the machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (4 * 1024 ** 3, resource.getrlimit(resource.RLIMIT_AS)[1]))
except (ValueError, OSError):  # not enforced everywhere (macOS)
    pass
from PIL import Image
Image.init()
from genstudio.data import importers
for name, value in json.loads(sys.argv[2]).items():
    setattr(importers, name, value)


def resident(field):  # bytes; Linux keeps a process's peak (VmHWM) for its own address space
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(field + ":"))


def import_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            said = {"summary": importers.preview_summary(importers.import_path(sys.argv[1]))}
        except importers.DataError as exc:
            said = {"error": str(exc)}
    said["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    return said


try:  # the peak from now on (ru_maxrss would start at the parent's peak, inherited at fork)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before, peak = resident("VmRSS"), lambda: resident("VmHWM")
except OSError:
    unit = 1 if sys.platform == "darwin" else 1024
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    before = peak()
start = time.perf_counter()
said = import_once()  # timed untraced: tracemalloc slows every allocation
said.update(seconds=time.perf_counter() - start, rss=peak() - before)
tracemalloc.start()
import_once()
said["traced"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(said))
"""


def import_in_child(path, **caps) -> dict:
    """What a fresh process says importing `path` (with importers' constants set to `caps`), and what it cost."""
    if sys.platform == "win32":
        pytest.skip("measured with the resource module (POSIX)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps(caps)], capture_output=True,
                              text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"importing {path} ran for over a minute")
    assert done.returncode == 0, done.stderr[-2000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{os.path.basename(path)}: {said.get('error') or said.get('summary')} | {said['seconds']:.2f} s, "
          f"traced peak {said['traced'] / MIB:.1f} MiB, resident +{said['rss'] / MIB:.1f} MiB")
    return said


def check_bounded(said: dict) -> None:
    assert said["seconds"] < TIME_LIMIT, said
    assert said["traced"] < PEAK_LIMIT, said
    assert said["rss"] < PEAK_LIMIT, said
    assert said["warnings"] == [], said


def check_refused(said: dict, named: str, *keywords: str) -> str:
    assert "error" in said, f"imported, not refused: {said}"
    message = said["error"]
    assert message.startswith(named) and "\n" not in message and len(message) < 300, message
    assert all(k in message for k in keywords), message
    check_bounded(said)
    return message


def gzip_members(path, member: bytes, count: int):
    """`count` copies of one gzip member: a valid gzip file (RFC 1952) of count x len(member) bytes, written at once."""
    packed = gzip.compress(member, mtime=0)
    with open(path, "wb") as fh:
        for _ in range(count):
            fh.write(packed)
    return path


def gzip_stream(path, chunk: bytes, count: int):
    """One gzip member of `count` x `chunk`, compressed as it is written: the test never holds it whole."""
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as fh:
        for _ in range(count):
            fh.write(chunk)
    return path


def blank_png(path, width: int, height: int):
    """A valid black 1-bit PNG of width x height pixels: kilobytes on disk, whatever it declares."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the bits
    rows_at_once = max(1, MIB // len(row))
    packer = zlib.compressobj(1)
    idat = b"".join(packer.compress(row * min(rows_at_once, height - top)) for top in range(0, height, rows_at_once))
    idat += packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def small_png(path, value: int = 100, side: int = 8):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((side, side), value, np.uint8)).save(path)
    return path


def npy_header(shape, dtype="|u1") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": dtype, "fortran_order": False, "shape": shape})
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Reading

def test_gzip_members_read_in_pieces_decode_exactly(tmp_path):
    rng = np.random.default_rng(3)
    parts = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in (0, 1, 5, 70_000, 3, 2 * MIB, 1)]
    members = b"".join(gzip.compress(part, compresslevel=level, mtime=0) for part in parts for level in (0, 9))
    tiny = gzip.compress(b"a", mtime=0) * 3300  # members that straddle every boundary of the reads
    for name, data, expected in (("mixed.gz", members + bytes(3), b"".join(p + p for p in parts)),
                                 ("tiny.gz", tiny, b"a" * 3300)):
        (tmp_path / name).write_bytes(data)
        assert importers.read_bytes(str(tmp_path / name)) == expected


def test_too_many_gzip_members_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_GZIP_MEMBERS", 1000)
    path = gzip_members(tmp_path / "names.txt.gz", b"a\nb\n", 1001)
    with pytest.raises(DataError, match=r"^names\.txt\.gz: more than 1,000 gzip members"):
        import_path(str(path))
    gzip_members(tmp_path / "names.txt.gz", b"a\nb\n", 1000)
    assert len(import_path(str(path)).words) > 0


# ---------------------------------------------------------------------------------------------
# Text

@pytest.mark.parametrize("how", ["one gzip member of 256 MiB", "2,100 gzip members: 2.05 GiB"])
def test_text_gzip_bomb_is_cut_to_the_first_items(tmp_path, how):
    chunk = b"ab\n" * (MIB // 3) + b"a\n"  # one MiB
    if how.startswith("one"):
        path = gzip_stream(tmp_path / "names.txt.gz", chunk, 256)
    else:  # past MAX_BYTES, which binary files are held to: text is only ever read to MAX_TEXT_BYTES
        path = gzip_members(tmp_path / "names.txt.gz", chunk, 2100)
    assert os.path.getsize(path) < 3 * MIB
    said = import_in_child(path)
    assert said.get("summary") == f"{importers.MAX_ITEMS:,} items, 2 characters, longest 2", said
    check_bounded(said)


def test_text_of_one_endless_word_is_cut_without_rereading_it(tmp_path):
    path = gzip_members(tmp_path / "word.txt.gz", b"w" * MIB, 64)  # no space nor line break in 64 MiB
    said = import_in_child(path)
    assert said.get("summary") == f"{importers.MAX_ITEMS:,} items, 1 characters, longest 64", said
    check_bounded(said)


def test_text_items_of_a_cut_text_read_only_the_start():
    text = "x\n" * (3 * importers.MAX_ITEMS) + "tail"
    assert importers.text_items(text) == ["x"] * importers.MAX_ITEMS
    assert importers.text_items("one two\nthree", end=8) == ["one two"]


# ---------------------------------------------------------------------------------------------
# Points

def test_csv_of_millions_of_rows_is_refused(tmp_path):
    rows = b"".join(b"%d,%d\n" % (i % 997, i % 13) for i in range(100_000))
    path = gzip_stream(tmp_path / "points.csv.gz", rows, 20)  # 2,000,000 points
    said = import_in_child(path)
    check_refused(said, "points.csv.gz", f"more than {importers.MAX_POINTS:,} points")


def test_csv_at_the_point_limit_imports(tmp_path):
    rows = "".join(f"{x:.6f},{y:.6f}\n" for x, y in np.random.default_rng(0).normal(size=(10_000, 2)))
    path = tmp_path / "many.csv"
    with open(path, "w") as fh:
        fh.write("x,y\n" + rows * (importers.MAX_POINTS // 10_000))
    said = import_in_child(path)
    assert said.get("summary") == f"{importers.MAX_POINTS:,} points", said
    check_bounded(said)


@pytest.mark.parametrize("member, count, keyword", [
    (b"\n" * MIB, 500, f"more than {importers.MAX_CSV_LINES:,} lines"),
    (b"1" * MIB, 500, f"line 1 is longer than {importers.MAX_CSV_LINE_CHARS:,} characters"),
    ((b"#" + b" " * 997 + b"\n") * 1000, 100, f"more than {importers.MAX_CSV_CHARS:,} characters"),
], ids=["500 MiB of blank lines", "one endless line", "100 MB of comments"])
def test_csv_that_is_no_points_is_refused_early(tmp_path, member, count, keyword):
    path = gzip_members(tmp_path / "points.csv.gz", member, count)
    said = import_in_child(path)
    check_refused(said, "points.csv.gz", keyword)


def test_row_mixing_decimal_points_and_commas_is_one_clear_error(tmp_path):
    (tmp_path / "eu.csv").write_text("x;y\n" + "".join(f"{i},5;{i},25\n" for i in range(12)) + "3.5;4,5\n")
    with pytest.raises(DataError, match=r"^eu\.csv: line 14: '4,5' is not a number$"):
        import_path(str(tmp_path / "eu.csv"))


# ---------------------------------------------------------------------------------------------
# Image folders

@pytest.mark.parametrize("content", [b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "GIF"],
                         ids=["EPS", "GIF"])
def test_another_format_under_an_image_name_is_refused_unopened(tmp_path, monkeypatch, content):
    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(self))
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *args, **kwargs: opened.append(args))
    small_png(str(tmp_path / "pets" / "dog.png"))
    if content == "GIF":
        Image.new("L", (8, 8)).save(tmp_path / "pets" / "cat.png", format="GIF")
    else:
        (tmp_path / "pets" / "cat.png").write_bytes(content)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError) as info:
            import_path(str(tmp_path / "pets"))
    finally:
        seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert str(info.value) == os.path.join("pets", "cat.png") + (": cannot be read as an image (not PNG, JPEG or "
                                                                 "BMP, or damaged)")
    assert opened == []  # Pillow's EPS plugin (and Ghostscript) never ran
    assert seconds < TIME_LIMIT and peak < PEAK_LIMIT


@pytest.mark.parametrize("side", [30_000, 10_000, 8_000])  # past Pillow's bomb error, its warning, our own limit
def test_png_declaring_huge_dimensions_is_refused_before_decoding(tmp_path, side):
    small_png(str(tmp_path / "pics" / "a.png"))
    huge = blank_png(str(tmp_path / "pics" / "huge.png"), side, side)
    assert os.path.getsize(huge) < 2 * MIB
    said = import_in_child(tmp_path / "pics")
    check_refused(said, os.path.join("pics", "huge.png"), "pixels is too many to decode",
                  f"{importers.MAX_IMAGE_PIXELS:,} pixels an image")


def test_folder_past_the_total_pixel_limit_is_refused_before_decoding(tmp_path):
    for i in range(40):
        small_png(str(tmp_path / "pics" / f"{i:02}.png"), value=i, side=300)
    said = import_in_child(tmp_path / "pics", MAX_TOTAL_PIXELS=1_000_000)
    check_refused(said, "pics", "more than 1,000,000 pixels to decode in all")


def test_large_jpeg_counts_the_pixels_it_decodes_at_a_reduced_scale(tmp_path):
    small_png(str(tmp_path / "photos" / "a.png"))
    big = np.tile(np.arange(4800, dtype=np.uint8), (4000, 1))  # 19.2 MP, past MAX_IMAGE_PIXELS once, not at 1/8
    Image.fromarray(big).save(tmp_path / "photos" / "b.jpg", quality=50)
    said = import_in_child(tmp_path / "photos")
    assert said.get("summary") == "2 images 32x32 grey", said
    check_bounded(said)


# ---------------------------------------------------------------------------------------------
# Arrays

def test_npz_entry_declaring_a_huge_shape_is_refused_before_loading(tmp_path):
    path = tmp_path / "set.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", npy_header((100_000, 1000, 1000)) + bytes(100))
    said = import_in_child(path)
    check_refused(said, "set.npz [x]", "truncated", "(100,000, 1,000, 1,000)", "100,000,000,000 bytes")


def test_npz_of_well_formed_giant_images_is_refused_before_loading(tmp_path):
    path = tmp_path / "set.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("x.npy", "w", force_zip64=True) as fh:
            fh.write(npy_header((2, 8192, 8192)))
            for _ in range(128):  # 128 MiB of black pixels
                fh.write(bytes(MIB))
    assert os.path.getsize(path) < 2 * MIB
    said = import_in_child(path)
    check_refused(said, "set.npz [x]", "images of 8,192x8,192 pixels are too big")


def test_npz_with_a_huge_table_of_contents_is_refused_before_reading_it(tmp_path):
    path = tmp_path / "set.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(500):
            zf.writestr(f"a{i:05}.npy", b"")
    said = import_in_child(path, MAX_ZIP_DIRECTORY=10_000)
    check_refused(said, "set.npz", "table of contents", "10,000 bytes")


@pytest.mark.parametrize("name, data", [
    ("giant.npy", npy_header((60_000, 30_000, 30_000)) + bytes(64)),
    ("giant-images-idx3-ubyte", struct.pack(">IIII", 0x803, 60_000, 30_000, 30_000) + bytes(64)),
])
def test_array_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    said = import_in_child(tmp_path / name)
    check_refused(said, name, "truncated", "54,000,000,000,000")


# ---------------------------------------------------------------------------------------------
# Not regular files

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("name", ["names.txt", "points.csv", "faces.npy"])
def test_named_pipe_is_refused_without_waiting(tmp_path, name):
    os.mkfifo(tmp_path / name)
    said = import_in_child(tmp_path / name)
    check_refused(said, name, "not a regular file")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
@pytest.mark.parametrize("name", ["zeros.txt", "zeros-images-idx3-ubyte"])
def test_link_to_an_endless_device_is_refused(tmp_path, name):
    os.symlink("/dev/zero", tmp_path / name)
    said = import_in_child(tmp_path / name)
    check_refused(said, name, "not a regular file")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="no /proc here")
def test_file_longer_than_its_reported_size_is_refused(tmp_path):
    os.symlink("/proc/self/status", tmp_path / "status.npy")  # a regular file whose size reads as 0
    with pytest.raises(DataError, match=r"^status\.npy: grew while it was read"):
        import_path(str(tmp_path / "status.npy"))
