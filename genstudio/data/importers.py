"""The user's own data as a Dataset: IDX (MNIST format), .npy/.npz arrays, image folders, text, CSV points.

Every bad input raises DataError, a ValueError whose message is one line naming the file and the
problem; nothing here lets a traceback from gzip, numpy or Pillow reach the user.

Images come out float32 (N, C, H, W) in [0, 1] on 256 grey levels, square, at one of IMAGE_SIZES:
a non-square image is centre-cropped to a square first (no stretching), then resized with Pillow
(BOX when shrinking: an area average, no ringing on tiny images; BICUBIC when enlarging). At most
MAX_IMAGES images are read (the first ones, in file order); text keeps at most MAX_ITEMS items.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import re
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # genstudio.data imports this module; Dataset is fetched lazily to avoid a cycle
    from . import Dataset

IMAGE_SIZES = (8, 16, 28, 32)
COLORS = ("auto", "grey", "rgb")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
DATA_EXTENSIONS = (".idx", ".idx1-ubyte", ".idx3-ubyte", "-ubyte", ".gz", ".npy", ".npz", ".txt", ".csv", ".tsv")
MAX_BYTES = 2 * 1024 ** 3        # anything bigger (on disk or once decompressed) is refused
MAX_IMAGES = 100_000             # more are cut to the first MAX_IMAGES
MAX_ITEMS = 200_000              # text items
MAX_ITEM_CHARS = 64              # longer lines are truncated; free text is cut into chunks this long
SHORT_LINE = 40                  # a text whose lines are mostly this short has one item per line
MIN_POINTS = 10
HELD_OUT_FRACTION = 0.1          # as genstudio.data's built-in sets
SPLIT_SEED = 0

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")  # binary giveaways; tab, newlines, \v and \f are text


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
    raw = read_bytes(path, label)
    if inner.endswith(".npy"):
        arr = _load_npy(raw, label)
        x, size, color = to_images(arr, label, size, color)
        return _image_dataset(path, label, x, None, (), raw, size, color)
    if inner.endswith(".npz"):
        return _import_npz(path, label, raw, size, color)
    if inner.endswith(".txt"):
        return _import_text(path, label, raw)
    if inner.endswith((".csv", ".tsv")):
        return _import_csv(path, label, raw)
    if (name.endswith(".gz") or "ubyte" in name or re.search(r"\.idx\d?$|idx\d", name)
            or (raw[:2] == b"\0\0" and len(raw) > 3 and raw[2] in _IDX_TYPES)):
        return _import_idx(path, label, raw, size, color)
    suffix = os.path.splitext(label)[1] or "(no suffix)"
    raise DataError(f"{label}: unknown kind of file {suffix}; GenStudio reads IDX (MNIST) files, .npy, .npz, "
                    ".txt, .csv, or a folder of images")


def read_bytes(path: str, label: str | None = None) -> bytes:
    """The file's bytes, gunzipped when it is gzip data (at most MAX_BYTES either way)."""
    label = label or _label(path)
    if os.path.getsize(path) > MAX_BYTES:
        raise DataError(f"{label}: {os.path.getsize(path):,} bytes is too big (the limit is {MAX_BYTES:,})")
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == _GZIP_MAGIC:
        return _gunzip(raw, label)
    if label.lower().endswith(".gz"):
        raise DataError(f"{label}: not gzip data, though the name ends in .gz (the file is damaged or misnamed)")
    return raw


def _gunzip(raw: bytes, label: str) -> bytes:
    out = bytearray()
    rest = raw
    while rest:  # a gzip file may hold several members, one after the other
        if rest[:2] != _GZIP_MAGIC:
            break  # trailing padding after the last member, as some tools write
        unz = zlib.decompressobj(wbits=31)
        try:
            out += unz.decompress(rest, MAX_BYTES + 1 - len(out))
        except zlib.error as exc:
            raise DataError(f"{label}: damaged gzip data ({exc})") from None
        if len(out) > MAX_BYTES:
            raise DataError(f"{label}: more than {MAX_BYTES:,} bytes once decompressed (the limit)")
        if not unz.eof:
            raise DataError(f"{label}: truncated gzip data: the file ends after {len(raw):,} bytes, in the middle "
                            "of the compressed stream (an unfinished download or copy?)")
        rest = unz.unused_data
    return bytes(out)


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
    try:
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{label}: holds Python objects (pickled data), which are never loaded; "
                            "save a plain numeric array") from None
        raise DataError(f"{label}: not a valid .npy file ({exc})") from None
    except Exception as exc:  # a garbled header raises SyntaxError, tokenize errors, EOFError...
        why = " ".join(str(exc).split())[:120] or "it ends too early"
        raise DataError(f"{label}: not a valid .npy file ({why})") from None
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{label}: holds several arrays; name it .npz")
    return arr


def _import_npz(path: str, label: str, raw: bytes, size: int, color: str) -> Dataset:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except zipfile.BadZipFile:
        raise DataError(f"{label}: not a valid .npz file (not a zip archive)") from None
    if unpacked > MAX_BYTES:
        raise DataError(f"{label}: {unpacked:,} bytes once unpacked is too big (the limit is {MAX_BYTES:,})")

    def get(npz, key):
        try:
            return npz[key]
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise DataError(f"{label}: array {key!r} holds Python objects (pickled data), which are "
                                "never loaded; save plain numeric arrays") from None
            raise DataError(f"{label}: array {key!r} is damaged ({exc})") from None
        except Exception as exc:  # garbled member: SyntaxError, EOFError, zlib.error, BadZipFile...
            why = " ".join(str(exc).split())[:120] or type(exc).__name__
            raise DataError(f"{label}: array {key!r} is damaged ({why})") from None

    try:
        npz = np.load(io.BytesIO(raw), allow_pickle=False)
    except Exception as exc:
        raise DataError(f"{label}: not a valid .npz file ({' '.join(str(exc).split())[:120]})") from None
    with npz:
        keys = list(npz.files)
        image_key = next((k for k in ("x", "images", "arr_0") if k in keys), None)
        if image_key is None:
            for k in keys:
                if get(npz, k).ndim in (3, 4):
                    image_key = k
                    break
        if image_key is None:
            listed = ", ".join(f"{k} {_shape(get(npz, k).shape)}" for k in keys) or "none"
            raise DataError(f"{label}: no image array (arrays: {listed}); expected 'x', 'images' or 'arr_0' "
                            "shaped (N, H, W) or (N, H, W, C)")
        arr = get(npz, image_key)
        label_key = next((k for k in ("y", "labels") if k in keys), None)
        labels = get(npz, label_key) if label_key else None
    where = f"{label} [{image_key}]"
    if labels is not None:
        if labels.ndim != 1 or labels.dtype.kind not in "iub":
            raise DataError(f"{label}: labels {label_key!r} must be 1-D integers, found {labels.dtype} "
                            f"{_shape(labels.shape)}")
        if arr.ndim >= 1 and len(labels) != len(arr):
            raise DataError(f"{label}: {len(labels):,} labels in {label_key!r} for {len(arr):,} images in "
                            f"{image_key!r}")
    x, size, color = to_images(arr, where, size, color)
    names = ()
    if labels is not None:
        labels, names = encode_labels(labels[:len(x)])
    return _image_dataset(path, label, x, labels, names, raw, size, color)


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
    return (pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255.0), size, color


def _what_dtype(dtype: np.dtype) -> str:
    return {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "byte strings",
            "V": "structured records", "M": "dates", "m": "time spans"}.get(dtype.kind, f"{dtype} values")


def _to_uint8_nhwc(arr: np.ndarray, label: str) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{label}: holds {_what_dtype(arr.dtype)} ({arr.dtype}), not pixels; "
                        "images need numbers (uint8 0-255 or floats 0-1)")
    shape = arr.shape
    if arr.ndim == 3:
        arr = arr[..., None]
    elif arr.ndim == 4:
        if shape[-1] not in (1, 3, 4):
            if shape[1] in (1, 3):
                arr = arr.transpose(0, 2, 3, 1)  # (N, C, H, W), as PyTorch stores images
            else:
                raise DataError(f"{label}: shape {_shape(shape)} is not images: the channels (last, or second) "
                                "must be 1, 3 or 4")
    else:
        hint = " (2-D points belong in a .csv with two columns)" if arr.ndim == 2 and shape[-1] == 2 else ""
        raise DataError(f"{label}: a {arr.ndim}-D array of shape {_shape(shape)}; images need 3-D (N, H, W) "
                        f"or 4-D (N, H, W, C){hint}")
    if arr.shape[-1] == 4:
        arr = arr[..., :3]  # alpha dropped
    n, h, w, _ = arr.shape
    if h == 0 or w == 0:
        raise DataError(f"{label}: empty images of {h}x{w} pixels")
    if n < 2:
        raise DataError(f"{label}: {n} image{'s' * (n != 1)}; need at least 2 (one to train on, one to hold out)")
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
    total = 0
    for f in files:  # headers only: sizes (for the automatic size) and undecodable files, early
        total += os.path.getsize(f)
        if total > MAX_BYTES:
            raise DataError(f"{label}: more than {MAX_BYTES:,} bytes of images (the limit)")
        sides.add(_open_image(f, path, Image).size)
    if not size:
        (w, h), *others = sides
        size = auto_size(h, w) if not others else auto_size(*max(sides, key=max))

    digest = hashlib.sha1()
    grey_or_rgb = []
    any_colour = False
    for f in files:
        with open(f, "rb") as fh:
            raw = fh.read()
        digest.update(os.path.relpath(f, path).encode("utf-8", "surrogateescape") + b"\0" + raw)
        pixels, colour = _decode(raw, f, path, size, Image)
        any_colour |= colour
        grey_or_rgb.append(pixels)
    color = _resolve_color(color, any_colour)
    x = np.stack([_convert_colour(p, color) for p in grey_or_rgb])
    x = x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    labels, names = None, ()
    if groups:
        labels, names = np.asarray(classes, np.int64), tuple(name for name, _ in groups)
    return _image_dataset(path, label, x, labels, names, [digest.digest()], size, color)


def _image_error(f: str, root: str, exc: BaseException) -> DataError:
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        why = "unknown or damaged format"
    else:
        why = " ".join(str(exc).split()) or type(exc).__name__
    where = os.path.join(_label(root), os.path.relpath(f, root))
    return DataError(f"{where}: cannot be read as an image ({why})")


def _open_image(f: str, root: str, Image):
    try:
        with Image.open(f) as img:
            return img
    except Exception as exc:  # Pillow raises many kinds (OSError, SyntaxError, ValueError, bombs...)
        raise _image_error(f, root, exc) from None


def _decode(raw: bytes, f: str, root: str, size: int, Image) -> tuple[np.ndarray, bool]:
    """(size, size, 1 or 3) uint8 pixels of one image file, and whether it has colour."""
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.draft(None, (size, size))  # JPEG: decode at a reduced scale still >= size (much faster)
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
    except DataError:
        raise
    except Exception as exc:
        raise _image_error(f, root, exc) from None
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

def decode_text(raw: bytes, label: str) -> str:
    """UTF-8 text (a BOM is fine; UTF-16 with a BOM too), or DataError for empty, binary or non-UTF-8 data."""
    if not raw.strip():
        raise DataError(f"{label}: empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its BOM, as Excel's "Unicode text" saves
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{label}: damaged UTF-16 text at byte {exc.start:,}") from None
        if _CONTROL_BYTES.search(text.encode("utf-8")) or not text.strip():
            raise DataError(f"{label}: binary data or empty UTF-16 text")
        return text
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    bad = _CONTROL_BYTES.search(raw)  # ASCII controls never occur inside a UTF-8 multi-byte sequence
    if bad:
        raise DataError(f"{label}: binary data, not UTF-8 text: control byte 0x{raw[bad.start()]:02X} at "
                        f"offset {bad.start():,}")
    try:
        text = raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[bom + exc.start]
        raise DataError(f"{label}: binary data, not UTF-8 text: byte 0x{byte:02X} at offset {bom + exc.start:,} "
                        "(if it is text, save it as UTF-8)") from None
    if not text.strip():
        raise DataError(f"{label}: empty")
    return text


def text_items(text: str) -> list[str]:
    """One item per line when most lines are short, else the text cut at word boundaries."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    short = sum(len(line) <= SHORT_LINE for line in lines)
    if short * 2 > len(lines):
        items = [line[:MAX_ITEM_CHARS].rstrip() for line in lines]
    else:
        items = []
        current = ""
        for word in text.split():
            while len(word) > MAX_ITEM_CHARS:  # a "word" longer than an item: cut it
                if current:
                    items.append(current)
                    current = ""
                items.append(word[:MAX_ITEM_CHARS])
                word = word[MAX_ITEM_CHARS:]
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


def _import_text(path: str, label: str, raw: bytes) -> Dataset:
    items = text_items(decode_text(raw, label))
    if len(items) < 2:
        raise DataError(f"{label}: only {len(items)} item; need at least 2 (one to train on, one to hold out)")
    train, held = split_indices(len(items))
    chars = sorted(set("".join(items)))
    alphabet = "\n" + "".join(chars)  # index 0 starts and ends an item: "\n" is never inside one
    words = np.array(items, dtype=object)
    return _dataset(name=label, kind="text", words=tuple(words[train]), held_out_words=tuple(words[held]),
                    alphabet=alphabet, source=os.path.abspath(path), key=_key(raw, 0, "text"))


# ---------------------------------------------------------------------------------------------
# Points (CSV)

def _separator(line: str) -> str | None:
    for sep in (";", "\t", ","):
        if sep in line:
            return sep
    return None  # whitespace


def parse_points(text: str, label: str) -> np.ndarray:
    """(N, 2) float64 points from CSV text: two numeric columns, an optional header row."""
    rows = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
    if not rows:
        raise DataError(f"{label}: empty")
    sep = _separator(rows[1][1] if len(rows) > 1 else rows[0][1])  # a data row: the header may differ
    points = []
    for k, (lineno, line) in enumerate(rows):
        cells = [c.strip().strip('"').strip("'").strip() for c in (line.split(sep) if sep else line.split())]
        if cells and cells[-1] == "" and len(cells) > 2:
            cells = cells[:-1]  # a trailing separator
        if len(cells) != 2:
            raise DataError(f"{label}: line {lineno} has {len(cells)} column{'s' * (len(cells) != 1)}; "
                            "points need exactly 2 (x and y)")
        try:
            if sep == ";" and not any("." in c for c in cells):
                cells = [c.replace(",", ".") for c in cells]  # decimal commas, as in European CSVs
            x, y = float(cells[0]), float(cells[1])
        except ValueError:
            bad = next(c for c in cells if not _is_number(c, sep))
            if k == 0:
                continue  # a header row
            raise DataError(f"{label}: line {lineno}: {bad[:40]!r} is not a number") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(f"{label}: line {lineno}: NaN or infinite value ({line.strip()[:40]!r})")
        points.append((x, y))
    return np.asarray(points, np.float64).reshape(-1, 2)


def _is_number(cell: str, sep) -> bool:
    try:
        float(cell.replace(",", ".") if sep == ";" else cell)
        return True
    except ValueError:
        return False


def _import_csv(path: str, label: str, raw: bytes) -> Dataset:
    pts = parse_points(decode_text(raw, label), label)
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
                    modes=None, source=os.path.abspath(path), key=_key(raw, 0, "points"))
