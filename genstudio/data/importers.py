"""The user's own data as a Dataset: IDX (MNIST format), .npy/.npz arrays, image folders, text, CSV points.

Every bad input raises DataError, a ValueError whose message is one line naming the file and the
problem; nothing here lets a traceback from gzip, numpy or Pillow reach the user.

Images come out float32 (N, C, H, W) in [0, 1] on 256 grey levels, square, at one of IMAGE_SIZES:
a non-square image is centre-cropped to a square first (no stretching), then resized with Pillow
(BOX when shrinking: an area average, no ringing on tiny images; BICUBIC when enlarging). At most
MAX_IMAGES images are read (the first ones, in file order); text keeps at most MAX_ITEMS items, from
its first MAX_TEXT_BYTES.

The files may be hostile (a small .gz that unpacks to gigabytes, a PNG that declares 30,000 x 30,000
pixels, a pipe named data.txt): every size is checked against its limit before the memory for it is
taken, and reading stops at the limit, so nothing here relies on catching MemoryError.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import math
import os
import re
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # genstudio.data imports this module; Dataset is fetched lazily to avoid a cycle
    from . import Dataset

IMAGE_SIZES = (8, 16, 28, 32)
COLORS = ("auto", "grey", "rgb")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
IMAGE_FORMATS = ("PNG", "JPEG", "BMP")  # all Pillow may open, whatever a file holds (an EPS file would run Ghostscript)
DATA_EXTENSIONS = (".idx", ".idx1-ubyte", ".idx3-ubyte", "-ubyte", ".gz", ".npy", ".npz", ".txt", ".csv", ".tsv")
MAX_BYTES = 2 * 1024 ** 3        # anything bigger (on disk or once decompressed) is refused
MAX_GZIP_MEMBERS = 100_000       # gzip files joined end to end (bgzip writes one per 64 KiB); each costs time
MAX_IMAGES = 100_000             # more are cut to the first MAX_IMAGES
MAX_IMAGE_PIXELS = 4096 * 4096   # decoded pixels of one image; more are refused (a tiny PNG can declare 30,000 squared)
MAX_TOTAL_PIXELS = 2 ** 30       # decoded pixels of a folder; more are refused (about half a minute of decoding)
MAX_ITEMS = 200_000              # text items
MAX_ITEM_CHARS = 64              # longer lines are truncated; free text is cut into chunks this long
MAX_TEXT_BYTES = 16 * 1024 ** 2  # read of a text: MAX_ITEMS full items (13 MB) and blank lines; the rest is cut
SHORT_LINE = 40                  # a text whose lines are mostly this short has one item per line
MIN_POINTS = 10
MAX_POINTS = 1_000_000           # more are refused, not cut: a file's first rows are often no fair sample of it
MAX_CSV_LINES = 2 * MAX_POINTS   # blank and comment lines too
MAX_CSV_LINE_CHARS = 1_000       # two numbers never need more
MAX_CSV_CHARS = 64 * MAX_POINTS  # of a points file in all
MAX_ZIP_DIRECTORY = 1024 ** 2    # bytes of an .npz's table of contents (~20,000 arrays), each an object in zipfile
HELD_OUT_FRACTION = 0.1          # as genstudio.data's built-in sets
SPLIT_SEED = 0
READ_CHUNK = 1024 ** 2           # bytes read, or decompressed, at a time

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")  # binary giveaways; tab, newlines, \v and \f are text
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE = re.compile(r"\S(?:[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*\S)?")  # a line, stripped (breaks: str.splitlines')
_WORD = re.compile(r"\S+")


class DataError(ValueError):
    """A file or folder that cannot be imported. The message is one line: '<file>: <problem>'."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


# ---------------------------------------------------------------------------------------------
# Entry points

def is_data_path(path: str) -> bool:
    """Whether `path` looks importable: a folder, or a file with a known suffix or an IDX name."""
    if os.path.isdir(path):
        return True
    name = os.path.basename(path).lower()
    return name.endswith(DATA_EXTENSIONS) or bool(re.search(r"idx\d", name)) or "ubyte" in name


def import_path(path: str, size: int = 0, color: str = "auto") -> Dataset:
    """The data set in a file or folder. size 0 picks one of IMAGE_SIZES from the images' own size;
    color "auto" keeps colour when the images have any. Text and points ignore size and color."""
    path = os.fspath(path)
    label = _label(path)
    if size not in (0, *IMAGE_SIZES):
        raise DataError(f"{label}: image size {size} is not one of {', '.join(map(str, IMAGE_SIZES))}")
    if color not in COLORS:
        raise DataError(f"{label}: colour {color!r} is not one of {', '.join(COLORS)}")
    try:
        if not os.path.exists(path):
            raise DataError(f"{path}: no such file or folder")
        if os.path.isdir(path):
            return _import_folder(path, label, size, color)
        return _import_file(path, label, size, color)
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{label}: too big to load into memory") from None
    except OSError as exc:
        raise DataError(f"{label}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, EOFError, zlib.error, struct.error, zipfile.BadZipFile, OverflowError) as exc:
        # a damaged file that slipped past the checks above: still one line, never a traceback
        raise DataError(f"{label}: cannot be read ({type(exc).__name__}: {exc})") from None


def preview_summary(ds: Dataset) -> str:
    """One line describing a data set, for an import preview."""
    if ds.kind == "image":
        n = len(ds.x) + (0 if ds.held_out is None else len(ds.held_out))
        _, h, w = ds.x.shape[1:]
        colour = "grey" if ds.x.shape[1] == 1 else "RGB"
        text = f"{n:,} images {h}x{w} {colour}"
        if ds.label_names:
            names = ds.label_names
            k = len(names)
            if k <= 4:
                shown = ", ".join(names)
            elif all(s.isdigit() for s in names) and np.array_equal(np.diff([int(s) for s in names]), np.ones(k - 1)):
                shown = f"{names[0]}-{names[-1]}"
            else:
                shown = f"{names[0]} … {names[-1]}"
            text += f", {k} labels ({shown})"
        return text
    if ds.kind == "text":
        words = ds.words + ds.held_out_words
        longest = max((len(w) for w in words), default=0)
        return f"{len(words):,} items, {len(ds.alphabet) - 1} characters, longest {longest}"
    if ds.kind == "points":
        n = len(ds.x) + (0 if ds.held_out is None else len(ds.held_out))
        return f"{n:,} points"
    return f"{ds.name} ({ds.kind})"


# ---------------------------------------------------------------------------------------------
# Files

def _label(path: str) -> str:
    return os.path.basename(os.path.normpath(path)) or path


def _dataset(**fields) -> Dataset:
    from . import Dataset
    return Dataset(**fields)


def _import_file(path: str, label: str, size: int, color: str) -> Dataset:
    name = label.lower()
    inner = name[:-3] if name.endswith(".gz") else name
    if inner.endswith(IMAGE_EXTENSIONS):
        raise DataError(f"{label}: a single image; import the folder that holds the images instead")
    if inner.endswith(".txt"):
        return _import_text(path, label)
    if inner.endswith((".csv", ".tsv")):
        return _import_csv(path, label)
    raw = read_bytes(path, label)
    if inner.endswith(".npy"):
        arr = _load_npy(raw, label)
        x, size, color = to_images(arr, label, size, color)
        return _image_dataset(path, label, x, None, (), raw, size, color)
    if inner.endswith(".npz"):
        return _import_npz(path, label, raw, size, color)
    if (name.endswith(".gz") or "ubyte" in name or re.search(r"\.idx\d?$|idx\d", name)
            or (raw[:2] == b"\0\0" and len(raw) > 3 and raw[2] in _IDX_TYPES)):
        return _import_idx(path, label, raw, size, color)
    suffix = os.path.splitext(label)[1] or "(no suffix)"
    raise DataError(f"{label}: unknown kind of file {suffix}; GenStudio reads IDX (MNIST) files, .npy, .npz, "
                    ".txt, .csv, or a folder of images")


def read_bytes(path: str, label: str | None = None) -> bytes:
    """The file's bytes, gunzipped when it is gzip data (at most MAX_BYTES either way)."""
    label = label or _label(path)
    with _open_file(path, label) as fh:
        if fh.peek(2)[:2] != _GZIP_MAGIC and not label.lower().endswith(".gz"):
            return _read_whole(fh, label)
        compressed = os.fstat(fh.fileno()).st_size
        if compressed > MAX_BYTES:
            raise DataError(f"{label}: {compressed:,} bytes is too big (the limit is {MAX_BYTES:,})")
        out = bytearray()
        for piece in _byte_pieces(fh, label):
            out += piece
            if len(out) > MAX_BYTES:
                raise DataError(f"{label}: more than {MAX_BYTES:,} bytes once decompressed (the limit)")
        return bytes(out)


def _open_file(path: str, label: str):
    """The file at `path`, open for reading; DataError for a pipe, device or socket (reading one may never end)."""
    fh = open(path, "rb", opener=_open_without_waiting)
    if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
        fh.close()
        raise DataError(f"{label}: not a regular file (a pipe, device or socket); save the data in a file and "
                        "import that")
    return fh


def _open_without_waiting(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))  # a pipe with no writer would block the open


def _read_whole(fh, label: str) -> bytes:
    """All of an open regular file, refused past MAX_BYTES: never more is read than the size the file had."""
    size = os.fstat(fh.fileno()).st_size
    if size > MAX_BYTES:
        raise DataError(f"{label}: {size:,} bytes is too big (the limit is {MAX_BYTES:,})")
    data = fh.read(size + 1)  # one byte more than the file system says: a file still growing shows it
    if len(data) > size:
        raise DataError(f"{label}: grew while it was read (is it still being written?); import it once it is complete")
    return data


def _byte_pieces(fh, label: str) -> Iterator[bytes]:
    """The open file's bytes, gunzipped when they are gzip data, in pieces of at most READ_CHUNK, read (and
    decompressed) only as far as the caller goes."""
    if fh.peek(2)[:2] == _GZIP_MAGIC:
        yield from _gunzip(fh, label)
    elif label.lower().endswith(".gz"):
        raise DataError(f"{label}: not gzip data, though the name ends in .gz (the file is damaged or misnamed)")
    else:
        while piece := fh.read(READ_CHUNK):
            yield piece


def _gunzip(fh, label: str) -> Iterator[bytes]:
    data, read = b"", 0
    for _ in range(MAX_GZIP_MEMBERS):  # a gzip file may hold several members, one after the other
        unz = zlib.decompressobj(wbits=31)
        while not unz.eof:
            try:
                piece = unz.decompress(data, READ_CHUNK)
            except zlib.error as exc:
                raise DataError(f"{label}: damaged gzip data ({exc})") from None
            data = unz.unconsumed_tail
            if piece:
                yield piece
            elif not data and not unz.eof:  # zlib holds nothing more: feed it
                data = fh.read(READ_CHUNK // 16)  # small: every call copies the input zlib has not used yet
                read += len(data)
                if not data:
                    raise DataError(f"{label}: truncated gzip data: the file ends after {read:,} bytes, in the middle "
                                    "of the compressed stream (an unfinished download or copy?)")
        data = unz.unused_data
        if len(data) < 2:
            more = fh.read(READ_CHUNK // 16)
            read += len(more)
            data += more
        if data[:2] != _GZIP_MAGIC:
            return  # the end, or padding after the last member, as some tools write
    raise DataError(f"{label}: more than {MAX_GZIP_MEMBERS:,} gzip members, one after the other (the limit); "
                    "recompress it as one")


def _head(pieces: Iterable[bytes], limit: int) -> tuple[list[bytes], bool]:
    """The first `limit` bytes of `pieces` (as pieces), and whether that was all of them."""
    head, size = [], 0
    for piece in pieces:
        if size + len(piece) > limit:
            head.append(piece[:limit - size])
            return head, False
        head.append(piece)
        size += len(piece)
    return head, True


def _image_dataset(path, label, x, labels, label_names, raw_key, size, color, name=None) -> Dataset:
    n = len(x)
    train, held = split_indices(n)
    fields = dict(name=name or label, kind="image", x=x[train], held_out=x[held], levels=256,
                  source=os.path.abspath(path), key=_key(raw_key, size, color))
    if labels is not None:
        fields.update(labels=labels[train], held_out_labels=labels[held], label_names=tuple(label_names))
    return _dataset(**fields)


def split_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indices: a fixed shuffle, 10% held out, at least one on each side (n >= 2)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    held = min(n - 1, max(1, int(n * HELD_OUT_FRACTION)))
    return order[:n - held], order[n - held:]


def _key(raw, size, color) -> str:
    digest = hashlib.sha1()
    for part in raw if isinstance(raw, (list, tuple)) else (raw,):
        digest.update(part)
    digest.update(f"|{size}|{color}".encode())
    return digest.hexdigest()[:12]


def _shape(shape) -> str:
    return "(" + ", ".join(f"{d:,}" for d in shape) + (",)" if len(shape) == 1 else ")")


# ---------------------------------------------------------------------------------------------
# IDX (MNIST format)

def parse_idx(data: bytes, label: str) -> np.ndarray:
    """An IDX file's array (big-endian as stored). Checks the magic number and the length."""
    if len(data) < 4:
        raise DataError(f"{label}: truncated: {len(data)} bytes, not even an IDX header")
    magic = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[:2] != b"\0\0" or code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise DataError(f"{label}: bad magic number 0x{magic:08X}, not an IDX (MNIST format) file "
                        "(images start 0x00000803, labels 0x00000801)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{label}: truncated: the IDX header needs {header} bytes, found {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_TYPES[code]
    count = math.prod(dims)
    need, found = count * dtype.itemsize, len(data) - header
    what = "label" if ndim == 1 else "pixel"
    if found < need:
        raise DataError(f"{label}: truncated: expected {need:,} {what} bytes, found {found:,}")
    if found > need:
        raise DataError(f"{label}: {found - need:,} bytes more than its header {_shape(dims)} says "
                        "(damaged, or not an IDX file)")
    return np.frombuffer(data, dtype, count, header).reshape(dims)


def _swap_name(name: str, forward: bool) -> list[str]:
    """Names of the matching labels file (forward) or images file, MNIST style, with and without .gz."""
    pairs = [("images", "labels"), ("Images", "Labels"), ("IMAGES", "LABELS")]
    dims = ("idx3", "idx1")
    out = []
    for a, b in pairs:
        src, dst = (a, b) if forward else (b, a)
        if src in name:
            swapped = name.replace(src, dst)
            out += [swapped.replace(dims[0], dims[1]) if forward else swapped.replace(dims[1], dims[0]), swapped]
    more = []
    for cand in out:
        more += [cand, cand[:-3] if cand.endswith(".gz") else cand + ".gz"]
    return list(dict.fromkeys(c for c in more if c != name))


def _beside(path: str, forward: bool) -> str | None:
    folder = os.path.dirname(os.path.abspath(path))
    for cand in _swap_name(os.path.basename(path), forward):
        full = os.path.join(folder, cand)
        if os.path.isfile(full):
            return full
    return None


def read_idx_labels(path: str, n_images: int, images_label: str) -> tuple[np.ndarray, bytes]:
    """The labels in an IDX labels file, checked against the image count: (int64 labels, raw bytes)."""
    label = _label(path)
    raw = read_bytes(path, label)
    arr = parse_idx(raw, label)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise DataError(f"{label}: not a labels file: {arr.ndim}-D {arr.dtype} data of shape {_shape(arr.shape)}")
    if len(arr) != n_images:
        raise DataError(f"{label}: {len(arr):,} labels for {n_images:,} images in {images_label}")
    return arr.astype(np.int64), raw


def _import_idx(path: str, label: str, raw: bytes, size: int, color: str) -> Dataset:
    arr = parse_idx(raw, label)
    if arr.ndim == 1:
        images = _beside(path, forward=False)
        hint = f" ({os.path.basename(images)}, beside it)" if images else ""
        raise DataError(f"{label}: holds {len(arr):,} labels, not images; import the images file{hint}")
    labels = names = None
    keys = [raw]
    labels_path = _beside(path, forward=True)
    if labels_path:
        labels, labels_raw = read_idx_labels(labels_path, len(arr), label)
        keys.append(labels_raw)
    x, size, color = to_images(arr, label, size, color)
    if labels is not None:
        labels, names = encode_labels(labels[:len(x)])
    return _image_dataset(path, label, x, labels, names or (), keys, size, color)


def encode_labels(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices 0..K-1 (int64) and the K original values as names, in sorted order."""
    classes, index = np.unique(values, return_inverse=True)
    return index.astype(np.int64).reshape(-1), tuple(str(c) for c in classes)


# ---------------------------------------------------------------------------------------------
# NumPy arrays

def _load_npy(raw: bytes, label: str) -> np.ndarray:
    if not raw.startswith(b"\x93NUMPY"):
        raise DataError(f"{label}: not a .npy file (no NumPy header)")
    fp = io.BytesIO(raw)
    shape, fortran, dtype = _npy_header(fp, label)
    _check_npy_size(shape, dtype, len(raw) - fp.tell(), label)
    arr = np.frombuffer(raw, dtype, math.prod(shape), fp.tell())  # the file's own bytes: no copy
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def _npy_header(fp, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from a .npy header, read without the data it announces."""
    try:
        version = np.lib.format.read_magic(fp)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fp)
    except Exception as exc:  # a garbled header raises ValueError, SyntaxError, EOFError...
        why = " ".join(str(exc).split())[:120] or "it ends too early"
        raise DataError(f"{where}: not a valid .npy array ({why})") from None
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects (pickled data), which are never loaded; save plain numeric "
                        "arrays")
    return shape, fortran, dtype


def _check_npy_size(shape: tuple[int, ...], dtype: np.dtype, found: int, where: str) -> None:
    need = math.prod(shape) * dtype.itemsize
    if need > found:  # checked before anything is allocated: a few bytes can declare terabytes
        raise DataError(f"{where}: truncated: its header says {_shape(shape)} {dtype}, {need:,} bytes, but "
                        f"{found:,} follow")


def _zip_directory_size(raw: bytes) -> int:
    """The size of the table of contents a zip archive declares, found where zipfile looks for it; 0 if none."""
    end = len(raw) - 22
    if raw[end:end + 4] != b"PK\x05\x06" or raw[-2:] != b"\0\0":  # there is a comment after the end record
        end = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 0xFFFF))
    if end < 0:
        return 0
    if end >= 20 and raw[end - 20:end - 16] == b"PK\x06\x07":  # ZIP64: the size is in the record before this locator
        return int.from_bytes(raw[end - 36:end - 28], "little")
    return int.from_bytes(raw[end + 12:end + 16], "little")


def _import_npz(path: str, label: str, raw: bytes, size: int, color: str) -> Dataset:
    directory = _zip_directory_size(raw)
    if directory > MAX_ZIP_DIRECTORY:
        raise DataError(f"{label}: a table of contents of {directory:,} bytes: far too many arrays for a set of "
                        f"images (the limit is {MAX_ZIP_DIRECTORY:,} bytes)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except Exception:  # BadZipFile, and what a damaged archive can raise before zipfile notices
        raise DataError(f"{label}: not a valid .npz file (not a zip archive)") from None
    with zf:
        arrays = {}  # name -> (zip entry, shape, dtype), from the headers: nothing is loaded yet
        for info in zf.infolist():
            if info.filename.endswith(".npy"):
                key = info.filename[:-4]
                where = f"{label} [{key}]"
                try:
                    with zf.open(info) as fp:
                        shape, _, dtype = _npy_header(fp, where)
                        found = info.file_size - fp.tell()
                except DataError:
                    raise
                except Exception as exc:  # garbled entry: BadZipFile, zlib.error, NotImplementedError, EOFError...
                    raise DataError(f"{where}: damaged ({' '.join(str(exc).split())[:120] or type(exc).__name__})"
                                    ) from None
                _check_npy_size(shape, dtype, found, where)
                arrays[key] = (info, shape, dtype)
        unpacked = sum(math.prod(shape) * dtype.itemsize for _, shape, dtype in arrays.values())
        if unpacked > MAX_BYTES:
            raise DataError(f"{label}: {unpacked:,} bytes once unpacked is too big (the limit is {MAX_BYTES:,})")
        image_key = (next((k for k in ("x", "images", "arr_0") if k in arrays), None)
                     or next((k for k, (_, shape, _) in arrays.items() if len(shape) in (3, 4)), None))
        if image_key is None:
            listed = ", ".join(f"{k} {_shape(shape)}" for k, (_, shape, _) in arrays.items()) or "none"
            raise DataError(f"{label}: no image array (arrays: {listed}); expected 'x', 'images' or 'arr_0' "
                            "shaped (N, H, W) or (N, H, W, C)")
        where = f"{label} [{image_key}]"
        _, shape, dtype = arrays[image_key]
        _image_layout(shape, dtype, where)  # before loading: a few compressed bytes can declare gigabytes of pixels
        label_key = next((k for k in ("y", "labels") if k in arrays), None)
        if label_key:
            _, label_shape, label_dtype = arrays[label_key]
            if len(label_shape) != 1 or label_dtype.kind not in "iub":
                raise DataError(f"{label}: labels {label_key!r} must be 1-D integers, found {label_dtype} "
                                f"{_shape(label_shape)}")
            if label_shape[0] != shape[0]:
                raise DataError(f"{label}: {label_shape[0]:,} labels in {label_key!r} for {shape[0]:,} images in "
                                f"{image_key!r}")
        arr = _npz_array(zf, arrays[image_key][0], where)
        labels = _npz_array(zf, arrays[label_key][0], f"{label} [{label_key}]") if label_key else None
    x, size, color = to_images(arr, where, size, color)
    names = ()
    if labels is not None:
        labels, names = encode_labels(labels[:len(x)])
    return _image_dataset(path, label, x, labels, names, raw, size, color)


def _npz_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> np.ndarray:
    """An array whose header has been checked, read straight into its own memory."""
    try:
        with zf.open(info) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except Exception as exc:  # garbled data: EOFError, zlib.error, BadZipFile (a wrong checksum)...
        raise DataError(f"{where}: damaged ({' '.join(str(exc).split())[:120] or type(exc).__name__})") from None


# ---------------------------------------------------------------------------------------------
# Arrays to images

def auto_size(h: int, w: int) -> int:
    """The native size when square and one of IMAGE_SIZES, else the nearest of them to the larger side."""
    if h == w and h in IMAGE_SIZES:
        return h
    side = max(h, w)
    return min(IMAGE_SIZES, key=lambda s: (abs(s - side), -s))


def _resolve_color(color: str, has_colour: bool) -> str:
    return ("rgb" if has_colour else "grey") if color == "auto" else color


def to_images(arr: np.ndarray, label: str, size: int = 0, color: str = "auto") -> tuple[np.ndarray, int, str]:
    """An image array as float32 (N, C, H, W) in [0, 1] on 256 levels, with the size and colour used."""
    pixels = _to_uint8_nhwc(arr, label)
    n, h, w, c = pixels.shape
    has_colour = c == 3 and not (np.array_equal(pixels[..., 0], pixels[..., 1])
                                 and np.array_equal(pixels[..., 0], pixels[..., 2]))
    color = _resolve_color(color, has_colour)
    size = size or auto_size(h, w)
    pixels = _convert_colour(pixels, color)
    pixels = _square_resize(pixels, size)
    return _unit_floats(pixels), size, color


def _unit_floats(pixels: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 as float32 (N, C, H, W) in [0, 1]; divided in place: it is the biggest array of an import."""
    x = pixels.transpose(0, 3, 1, 2).astype(np.float32)
    x /= 255.0
    return x


def _what_dtype(dtype: np.dtype) -> str:
    return {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "byte strings",
            "V": "structured records", "M": "dates", "m": "time spans"}.get(dtype.kind, f"{dtype} values")


def _image_layout(shape: tuple[int, ...], dtype: np.dtype, label: str) -> bool:
    """Whether an array of this shape and dtype holds images channels second, (N, C, H, W) as PyTorch stores them,
    rather than (N, H, W) or (N, H, W, C); DataError when it holds no images, or images too big. Shape and dtype
    are enough: an .npz entry is checked before it is loaded."""
    if dtype.kind not in "biuf":
        raise DataError(f"{label}: holds {_what_dtype(dtype)} ({dtype}), not pixels; "
                        "images need numbers (uint8 0-255 or floats 0-1)")
    ndim = len(shape)
    channels_first = ndim == 4 and shape[-1] not in (1, 3, 4)
    if channels_first and shape[1] not in (1, 3):
        raise DataError(f"{label}: shape {_shape(shape)} is not images: the channels (last, or second) "
                        "must be 1, 3 or 4")
    if ndim not in (3, 4):
        hint = " (2-D points belong in a .csv with two columns)" if ndim == 2 and shape[-1] == 2 else ""
        raise DataError(f"{label}: a {ndim}-D array of shape {_shape(shape)}; images need 3-D (N, H, W) "
                        f"or 4-D (N, H, W, C){hint}")
    n, h, w = (shape[0], shape[2], shape[3]) if channels_first else shape[:3]
    if h == 0 or w == 0:
        raise DataError(f"{label}: empty images of {h}x{w} pixels")
    if n < 2:
        raise DataError(f"{label}: {n} image{'s' * (n != 1)}; need at least 2 (one to train on, one to hold out)")
    if h * w > MAX_IMAGE_PIXELS:
        raise DataError(f"{label}: images of {h:,}x{w:,} pixels are too big (the limit is {MAX_IMAGE_PIXELS:,} "
                        "pixels an image)")
    return channels_first


def _to_uint8_nhwc(arr: np.ndarray, label: str) -> np.ndarray:
    if _image_layout(arr.shape, arr.dtype, label):
        arr = arr.transpose(0, 2, 3, 1)
    elif arr.ndim == 3:
        arr = arr[..., None]
    if arr.shape[-1] == 4:
        arr = arr[..., :3]  # alpha dropped
    arr = arr[:MAX_IMAGES]
    if arr.dtype.kind == "b":
        return arr.astype(np.uint8) * 255
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    lo, hi = arr.min(), arr.max()
    if arr.dtype.kind in "iu":
        if lo < 0 or hi > 255:
            raise DataError(f"{label}: values from {lo} to {hi}; integer pixels must be 0-255")
        return arr.astype(np.uint8)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise DataError(f"{label}: contains NaN or infinite values")
    arr = arr.astype(np.float32, copy=False)  # exact enough to round to 256 levels; half float64's memory
    if lo >= 0 and hi <= 1:
        scaled = arr * 255
    elif lo >= 0 and hi <= 255:
        scaled = arr
    else:
        raise DataError(f"{label}: values from {lo:g} to {hi:g}; float pixels must be within 0-1 or 0-255")
    return np.rint(scaled).astype(np.uint8)  # quantised to 256 levels


def _convert_colour(pixels: np.ndarray, color: str) -> np.ndarray:
    c = pixels.shape[-1]
    if color == "rgb" and c == 1:
        return np.repeat(pixels, 3, axis=-1)
    if color == "grey" and c == 3:
        weights = np.array([299, 587, 114], np.uint32)  # ITU-R 601-2 luma, as Pillow's convert("L")
        return ((pixels.astype(np.uint32) @ weights + 500) // 1000).astype(np.uint8)[..., None]
    return pixels


def _square_resize(pixels: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square (no stretching), then resize every image to size x size."""
    from PIL import Image

    n, h, w, c = pixels.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    pixels = pixels[:, top:top + side, left:left + side]
    if side == size:
        return np.ascontiguousarray(pixels)
    resample = Image.Resampling.BOX if size < side else Image.Resampling.BICUBIC
    out = np.empty((n, size, size, c), np.uint8)
    for i in range(n):
        img = Image.fromarray(np.ascontiguousarray(pixels[i, :, :, 0] if c == 1 else pixels[i]))
        out[i] = np.asarray(img.resize((size, size), resample)).reshape(size, size, c)
    return out


# ---------------------------------------------------------------------------------------------
# Image folders

def _listdir(folder: str):
    """Non-hidden entries, sorted by name."""
    return sorted((e for e in os.scandir(folder) if not e.name.startswith((".", "__MACOSX"))),
                  key=lambda e: e.name)


def _image_files(folder: str) -> list[str]:
    return [e.path for e in _listdir(folder) if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)]


def _import_folder(path: str, label: str, size: int, color: str) -> Dataset:
    from PIL import Image

    loose = _image_files(path)
    groups = [(e.name, _image_files(e.path)) for e in _listdir(path) if e.is_dir()]
    groups = [(name, files) for name, files in groups if files]
    if groups and loose:
        raise DataError(f"{label}: {len(loose):,} image{'s' * (len(loose) != 1)} beside {len(groups)} subfolders of "
                        "images; put every "
                        "image in a subfolder (one per label), or none")
    if not groups and not loose:
        raise DataError(f"{label}: no images (PNG, JPEG or BMP) in the folder or its subfolders")
    if len(groups) == 1:  # one subfolder is one class: no labels worth having
        loose, groups = groups[0][1], []
    files = loose + [f for _, fs in groups for f in fs]
    classes = [i for i, (_, fs) in enumerate(groups) for _ in fs]
    files, classes = files[:MAX_IMAGES], classes[:MAX_IMAGES]
    if len(files) < 2:
        raise DataError(f"{label}: 1 image; need at least 2 (one to train on, one to hold out)")

    sides = set()
    total_bytes = total_pixels = 0
    for f in files:  # headers only: sizes (for the automatic size), undecodable files and too many pixels, early
        where = _where(f, path)
        with _open_file(f, where) as fh:
            total_bytes += os.fstat(fh.fileno()).st_size
            if total_bytes > MAX_BYTES:
                raise DataError(f"{label}: more than {MAX_BYTES:,} bytes of images (the limit)")
            img, own_size = _open_image(fh, where, max(IMAGE_SIZES), Image)
            with img:
                sides.add(own_size)
                total_pixels += img.size[0] * img.size[1]  # as they will be decoded: JPEGs at a reduced scale
        if total_pixels > MAX_TOTAL_PIXELS:
            raise DataError(f"{label}: more than {MAX_TOTAL_PIXELS:,} pixels to decode in all (the limit); use fewer "
                            "or smaller images")
    if not size:
        (w, h), *others = sides
        size = auto_size(h, w) if not others else auto_size(*max(sides, key=max))

    digest = hashlib.sha1()
    grey_or_rgb = []
    any_colour = False
    for f in files:
        where = _where(f, path)
        with _open_file(f, where) as fh:
            raw = _read_whole(fh, where)
        digest.update(os.path.relpath(f, path).encode("utf-8", "surrogateescape") + b"\0" + raw)
        pixels, colour = _decode(raw, where, size, Image)
        any_colour |= colour
        grey_or_rgb.append(pixels)
    color = _resolve_color(color, any_colour)
    x = _unit_floats(np.stack([_convert_colour(p, color) for p in grey_or_rgb]))
    labels, names = None, ()
    if groups:
        labels, names = np.asarray(classes, np.int64), tuple(name for name, _ in groups)
    return _image_dataset(path, label, x, labels, names, [digest.digest()], size, color)


def _where(f: str, root: str) -> str:
    return os.path.join(_label(root), os.path.relpath(f, root))


def _image_error(where: str, exc: BaseException) -> DataError:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        why = "not PNG, JPEG or BMP, or damaged"
    else:
        why = " ".join(str(exc).split()) or type(exc).__name__
    return DataError(f"{where}: cannot be read as an image ({why})")


def _open_image(fp, where: str, side: int, Image):
    """Pillow's image in `fp`, which must be one of IMAGE_FORMATS, and its own size. Only the header is read: the
    image is set to decode at a scale still >= side x side where the format allows (JPEG: much faster), and refused
    when that is more than MAX_IMAGE_PIXELS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refused, not printed
            img = Image.open(fp, formats=IMAGE_FORMATS)
        own_size = img.size
        img.draft(None, (side, side))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise DataError(f"{where}: more than {Image.MAX_IMAGE_PIXELS:,} pixels is too many to decode (the limit is "
                        f"{MAX_IMAGE_PIXELS:,} pixels an image)") from None
    except Exception as exc:  # Pillow raises many kinds (OSError, SyntaxError, ValueError...)
        raise _image_error(where, exc) from None
    w, h = img.size
    if w * h > MAX_IMAGE_PIXELS:
        img.close()
        raise DataError(f"{where}: {own_size[0]:,}x{own_size[1]:,} pixels is too many to decode (the limit is "
                        f"{MAX_IMAGE_PIXELS:,} pixels an image)")
    return img, own_size


def _decode(raw: bytes, where: str, size: int, Image) -> tuple[np.ndarray, bool]:
    """(size, size, 1 or 3) uint8 pixels of one image file, and whether it has colour."""
    img, _ = _open_image(io.BytesIO(raw), where, size, Image)
    try:
        with img:
            img.load()
            mode = img.mode
            if mode in ("1", "L", "LA", "La", "P") and not (mode == "P" and _palette_has_colour(img)):
                img = img.convert("L")
            elif mode.startswith("I") or mode == "F":
                arr = np.asarray(img, dtype=np.float64)
                if arr.max() > 255:
                    arr = arr / 257.0  # 16-bit grey
                img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
            else:
                img = img.convert("RGB")  # alpha dropped
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))  # centre square: no stretching
            if side != size:
                resample = Image.Resampling.BOX if size < side else Image.Resampling.BICUBIC
                img = img.resize((size, size), resample)
            pixels = np.asarray(img)
    except Exception as exc:
        raise _image_error(where, exc) from None
    if pixels.ndim == 2:
        return pixels[..., None], False
    colour = not (np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2]))
    return pixels, colour


def _palette_has_colour(img) -> bool:
    palette = img.getpalette() or []
    rgb = np.asarray(palette[:768 - len(palette) % 3], np.uint8).reshape(-1, 3)
    return bool((rgb != rgb[:, :1]).any())


# ---------------------------------------------------------------------------------------------
# Text

def _decoded(pieces: Iterable[bytes], label: str, final: bool = True) -> Iterator[str]:
    """Text from bytes, a piece at a time: UTF-8 (a BOM is fine) or UTF-16 with its BOM, as Excel's "Unicode text"
    saves; DataError for binary or non-UTF-8 data. final False: the bytes stop mid-file, and a character they cut
    is dropped."""
    pieces = iter(pieces)
    first = b""
    for piece in pieces:  # enough to see a BOM
        first += piece
        if len(first) >= 3:
            break
    utf16 = first.startswith((b"\xff\xfe", b"\xfe\xff"))
    offset = 3 if first.startswith(b"\xef\xbb\xbf") else 0  # in the file, of the next piece
    decoder = codecs.getincrementaldecoder("utf-16" if utf16 else "utf-8")()
    for piece in itertools.chain([first[offset:]], pieces, [None]):
        held = len(decoder.getstate()[0])  # bytes of a character cut at the end of the last piece
        if not utf16 and piece and (bad := _CONTROL_BYTES.search(piece)):
            raise DataError(f"{label}: binary data, not UTF-8 text: control byte 0x{piece[bad.start()]:02X} at "
                            f"offset {offset + bad.start():,}")
        try:
            text = decoder.decode(piece or b"", piece is None and final)
        except UnicodeDecodeError as exc:
            at = offset - held + exc.start
            if utf16:
                raise DataError(f"{label}: damaged UTF-16 text at byte {at:,}") from None
            raise DataError(f"{label}: binary data, not UTF-8 text: byte 0x{exc.object[exc.start]:02X} at offset "
                            f"{at:,} (if it is text, save it as UTF-8)") from None
        if utf16 and _CONTROL_CHARS.search(text):
            raise DataError(f"{label}: binary data, not UTF-16 text")
        offset += len(piece or b"")
        yield text


def text_items(text: str, end: int | None = None) -> list[str]:
    """One item per line when most lines are short, else the text cut at word boundaries: at most MAX_ITEMS, from
    text[:end], read from the start only as far as they need (a few MB of .gz can hold 700 million lines)."""
    end = len(text) if end is None else end
    lines, short = [], 0
    for match in _LINE.finditer(text, 0, end):
        line = match.group()
        short += len(line) <= SHORT_LINE
        lines.append(line[:MAX_ITEM_CHARS].rstrip() if len(line) > MAX_ITEM_CHARS else line)
        if len(lines) == MAX_ITEMS:
            break
    if short * 2 > len(lines):  # decided on the lines read
        return lines
    items = []
    current = ""
    for word in _word_pieces(text, end):
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= MAX_ITEM_CHARS:
            current += " " + word
        else:
            items.append(current)
            current = word
        if len(items) >= MAX_ITEMS:
            break
    if current:
        items.append(current)
    return items[:MAX_ITEMS]


def _word_pieces(text: str, end: int) -> Iterator[str]:
    """The words of text[:end]; a "word" longer than an item comes in pieces of MAX_ITEM_CHARS (and the rest)."""
    for word in _WORD.finditer(text, 0, end):
        start, stop = word.span()
        for cut in range(start, stop, MAX_ITEM_CHARS):
            yield text[cut:min(cut + MAX_ITEM_CHARS, stop)]


def _import_text(path: str, label: str) -> Dataset:
    with _open_file(path, label) as fh:
        head, complete = _head(_byte_pieces(fh, label), MAX_TEXT_BYTES)
    text = "".join(_decoded(head, label, final=complete))
    if not text or text.isspace():
        raise DataError(f"{label}: empty")
    end = len(text) if complete else max(map(text.rfind, " \t\n\r\f\v")) + 1 or len(text)  # less a cut last word
    items = text_items(text, end)
    if len(items) < 2:
        raise DataError(f"{label}: only {len(items)} item; need at least 2 (one to train on, one to hold out)")
    train, held = split_indices(len(items))
    chars = sorted(set("".join(items)))
    alphabet = "\n" + "".join(chars)  # index 0 starts and ends an item: "\n" is never inside one
    words = np.array(items, dtype=object)
    return _dataset(name=label, kind="text", words=tuple(words[train]), held_out_words=tuple(words[held]),
                    alphabet=alphabet, source=os.path.abspath(path), key=_key(head, 0, "text"))


# ---------------------------------------------------------------------------------------------
# Points (CSV)

def _separator(line: str) -> str | None:
    for sep in (";", "\t", ","):
        if sep in line:
            return sep
    return None  # whitespace


def parse_points(blocks: Iterable[str], label: str) -> np.ndarray:
    """(N, 2) float64 points from CSV text, in the blocks it is read in: two numeric columns, an optional header
    row. More than MAX_POINTS are refused, not cut: the first rows of a file are often no fair sample of it (sorted,
    or one cluster after another)."""
    parts, count, sep, started = [], 0, None, False
    for first, lines in _line_blocks(blocks, label):
        rows = [line for line in lines if _is_row(line)]
        if rows and not started:  # the separator, from a data row (the header may differ); then the header
            sep = _separator(rows[1] if len(rows) > 1 else rows[0])
            if _point(first + lines.index(rows[0]), rows[0], sep, label, header_ok=True) is None:
                rows = rows[1:]
            started = True
        if rows:
            pts = _parse_plain(rows, sep)
            if pts is None:  # row by row, numbered: for the message, or for quotes and decimal commas
                numbered = [(n, line) for n, line in enumerate(lines, first) if _is_row(line)][-len(rows):]
                pts = np.array([_point(n, line, sep, label) for n, line in numbered], np.float64)
            parts.append(pts)
            count += len(pts)
            if count > MAX_POINTS:
                raise DataError(f"{label}: more than {MAX_POINTS:,} points (the limit); import a random sample of them")
    if not started:
        raise DataError(f"{label}: empty")
    return np.concatenate(parts) if parts else np.empty((0, 2))


def _is_row(line: str) -> bool:
    return not line.isspace() and line[0] != "#"  # neither blank nor a comment


def _line_blocks(blocks: Iterable[str], label: str) -> Iterator[tuple[int, list[str]]]:
    """The lines of text that comes in blocks, with their line breaks, a megabyte or more at a time (the first
    holds the rows the separator is read from), as (number of the first, lines); DataError past MAX_CSV_CHARS,
    MAX_CSV_LINES or MAX_CSV_LINE_CHARS."""
    number, text, chars = 1, "", 0
    for block in itertools.chain(blocks, [None]):
        if block is not None:
            chars += len(block)
            text += block
            if len(text) < READ_CHUNK and chars <= MAX_CSV_CHARS:
                continue
        lines = text.splitlines(keepends=True)
        text = lines.pop() if block is not None and lines and not lines[-1].endswith("\n") else ""  # may go on
        if chars > MAX_CSV_CHARS or number - 1 + len(lines) > MAX_CSV_LINES:
            what = f"{MAX_CSV_CHARS:,} characters" if chars > MAX_CSV_CHARS else f"{MAX_CSV_LINES:,} lines"
            raise DataError(f"{label}: more than {what}, too long for {MAX_POINTS:,} points (the limit)")
        if max(map(len, lines), default=0) > MAX_CSV_LINE_CHARS or len(text) > MAX_CSV_LINE_CHARS:
            at = next(n for n, line in enumerate([*lines, text], number) if len(line) > MAX_CSV_LINE_CHARS)
            raise DataError(f"{label}: line {at:,} is longer than {MAX_CSV_LINE_CHARS:,} characters; points need two "
                            "numbers a line")
        yield number, lines
        number += len(lines)


def _parse_plain(lines: list[str], sep: str | None) -> np.ndarray | None:
    """numpy's parser on rows of two plain numbers (most files); None when they are not all that."""
    text = "".join(lines)
    if '"' in text or "'" in text:
        return None
    if sep == ";" and "," in text:
        if "." in text:
            return None
        lines = [line.replace(",", ".") for line in lines]  # decimal commas, as in European CSVs
    try:
        pts = np.loadtxt(lines, delimiter=sep, comments=None, ndmin=2)
    except ValueError:
        return None
    return pts if pts.shape == (len(lines), 2) and np.isfinite(pts).all() else None


def _point(number: int, line: str, sep: str | None, label: str, header_ok: bool = False) -> tuple[float, float] | None:
    """One row's (x, y); None for a row of text when header_ok."""
    cells = [c.strip().strip('"').strip("'").strip() for c in (line.split(sep) if sep else line.split())]
    if cells and cells[-1] == "" and len(cells) > 2:
        cells = cells[:-1]  # a trailing separator
    if len(cells) != 2:
        raise DataError(f"{label}: line {number} has {len(cells)} column{'s' * (len(cells) != 1)}; "
                        "points need exactly 2 (x and y)")
    numbers = cells
    if sep == ";" and not any("." in c for c in cells):
        numbers = [c.replace(",", ".") for c in cells]  # decimal commas, as in European CSVs
    try:
        x, y = float(numbers[0]), float(numbers[1])
    except ValueError:
        if header_ok:
            return None
        bad = next(cell for cell, text in zip(cells, numbers) if not _is_number(text))
        raise DataError(f"{label}: line {number}: {bad[:40]!r} is not a number") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise DataError(f"{label}: line {number}: NaN or infinite value ({line.strip()[:40]!r})")
    return x, y


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _import_csv(path: str, label: str) -> Dataset:
    with _open_file(path, label) as fh:
        pts = parse_points(_decoded(_byte_pieces(fh, label), label), label)
    n = len(pts)
    if n < MIN_POINTS:
        raise DataError(f"{label}: only {n} point{'s' * (n != 1)}; need at least {MIN_POINTS}")
    x = pts.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{label}: values beyond the float32 range (about 3.4e38)")
    train, held = split_indices(n)
    shift = x[train].mean(0).astype(np.float32)
    scale = float(x[train].std(0).mean())
    if not scale > 0 or not math.isfinite(scale):
        raise DataError(f"{label}: all points are the same; nothing to learn")
    return _dataset(name=label, kind="points", x=x[train], held_out=x[held], shift=shift, scale=scale,
                    modes=None, source=os.path.abspath(path), key=_key(pts.tobytes(), 0, "points"))
