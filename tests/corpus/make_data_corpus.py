"""Write tests/corpus/data/: small bad data files that genstudio.data.importers must refuse with a DataError.

    python tests/corpus/make_data_corpus.py      # (re)writes data/ and README.md beside this script

Deterministic (fixed seeds, gzip mtime 0), so tests/test_importers.py can check that the committed
files are what this script writes. CASES is the table the tests run: (path under data/, a keyword
the one-line message must contain, the file name the message must name, what is wrong).
"""
from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [
    # IDX (MNIST format)
    ("truncated-images-idx3-ubyte.gz", "truncated", "truncated-images-idx3-ubyte.gz",
     "complete gzip of an IDX whose header says 10x28x28 but holds 1,024 pixel bytes"),
    ("cut_off-images-idx3-ubyte.gz", "truncated gzip", "cut_off-images-idx3-ubyte.gz",
     "a good .gz cut in half (an unfinished download)"),
    ("garbage-images-idx3-ubyte.gz", "not gzip", "garbage-images-idx3-ubyte.gz",
     "random bytes with a .gz name"),
    ("damaged_deflate-images-idx3-ubyte.gz", "damaged gzip", "damaged_deflate-images-idx3-ubyte.gz",
     "a gzip header followed by a corrupted deflate stream"),
    ("truncated-images-idx3-ubyte", "truncated", "truncated-images-idx3-ubyte",
     "plain IDX cut short"),
    ("wrong_magic-images-idx3-ubyte", "magic", "wrong_magic-images-idx3-ubyte",
     "magic number written little-endian (0x03080000)"),
    ("not_idx-images-idx3-ubyte", "magic", "not_idx-images-idx3-ubyte",
     "a PNG signature under an IDX name"),
    ("extra_bytes-images-idx3-ubyte", "more than its header", "extra_bytes-images-idx3-ubyte",
     "100 bytes after the pixels its header announces"),
    ("mismatch-images-idx3-ubyte", "9 labels for 10 images", "mismatch-labels-idx1-ubyte",
     "10 images; the labels file beside it holds 9 labels"),
    ("mismatch-labels-idx1-ubyte", "labels, not images", "mismatch-labels-idx1-ubyte",
     "a labels file passed as the data (its images file is beside it)"),
    ("only-labels-idx1-ubyte", "labels, not images", "only-labels-idx1-ubyte",
     "a 1-D labels file on its own"),
    ("flat-images-idx2-ubyte", "2-D", "flat-images-idx2-ubyte",
     "a 2-D IDX (10, 784): flattened images are not read"),
    # NumPy
    ("rank1.npy", "1-D", "rank1.npy", "a 1-D array"),
    ("rank5.npy", "5-D", "rank5.npy", "a 5-D array"),
    ("complex.npy", "complex", "complex.npy", "complex128 pixels"),
    ("objects.npy", "pickle", "objects.npy", "an object array: loading it would need pickle, which is refused"),
    ("strings.npy", "strings", "strings.npy", "an array of unicode strings"),
    ("float_range.npy", "0-1 or 0-255", "float_range.npy", "float pixels from -1 to 3"),
    ("nan_pixels.npy", "NaN", "nan_pixels.npy", "float pixels with a NaN"),
    ("one_image.npy", "at least 2", "one_image.npy", "a single image (1, 8, 8)"),
    ("bad_channels.npy", "channels", "bad_channels.npy", "shape (4, 8, 8, 5): 5 channels"),
    ("not_numpy.npy", "not a .npy", "not_numpy.npy", "text under a .npy name"),
    ("no_images.npz", "no image array", "no_images.npz", "arrays of rank 1 and 2 only"),
    ("bad_labels.npz", "labels", "bad_labels.npz", "6 images with 5 labels"),
    ("objects.npz", "pickle", "objects.npz", "the image array holds Python objects"),
    ("not_zip.npz", "not a valid .npz", "not_zip.npz", "random bytes under a .npz name"),
    # Image folders
    ("no_images", "no images", "no_images", "a folder with only a README.txt and a data.json"),
    ("broken_png", "cannot be read as an image", "broken.png", "two good PNGs and a .png of random bytes"),
    ("truncated_png", "cannot be read as an image", "cut.png", "two good PNGs and one cut in half"),
    ("loose_and_labelled", "subfolder", "loose_and_labelled", "images both beside and inside label subfolders"),
    ("single.png", "single image", "single.png", "one image file rather than a folder"),
    # Text
    ("empty.txt", "empty", "empty.txt", "0 bytes"),
    ("whitespace.txt", "empty", "whitespace.txt", "only spaces and newlines"),
    ("binary.txt", "binary data", "binary.txt", "bytes with NULs under a .txt name"),
    ("latin1.txt", "not UTF-8", "latin1.txt", "latin-1 text (0xE9 for e-acute)"),
    ("one_line.txt", "only 1 item", "one_line.txt", "a single item: nothing to hold out"),
    # Points
    ("text_in_row.csv", "line 4", "text_in_row.csv", "'oops' in a data row"),
    ("three_columns.csv", "3 columns", "three_columns.csv", "x, y, z"),
    ("nan.csv", "NaN", "nan.csv", "a NaN coordinate"),
    ("one_point.csv", "only 1 point", "one_point.csv", "a header and a single point"),
    ("all_same.csv", "all points are the same", "all_same.csv", "12 copies of (1, 2)"),
    ("one_column.csv", "1 column", "one_column.csv", "one number per line"),
    # Neither
    ("unknown.xyz", "unknown kind of file", "unknown.xyz", "a suffix GenStudio does not read"),
]


def idx(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int8: 0x09}[arr.dtype.type]
    return struct.pack(">I", (code << 8) | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def gz(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as fh:
        fh.write(data)
    return out.getvalue()


def png(arr: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(arr).save(out, format="PNG")
    return out.getvalue()


def npy(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, arr, allow_pickle=arr.dtype == object)
    return out.getvalue()


def npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def contents() -> dict[str, bytes]:
    """Path under data/ -> bytes."""
    rng = np.random.default_rng(1234)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    good_idx = idx(images)
    good_gz = gz(good_idx)
    tiny = rng.integers(0, 256, (8, 8), dtype=np.uint8)
    f = {}
    f["truncated-images-idx3-ubyte.gz"] = gz(good_idx[:16 + 1024])
    f["cut_off-images-idx3-ubyte.gz"] = good_gz[:len(good_gz) // 2]
    f["garbage-images-idx3-ubyte.gz"] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    deflate = bytearray(good_gz)
    deflate[10:40] = b"\xff" * 30  # the start of the deflate stream
    f["damaged_deflate-images-idx3-ubyte.gz"] = bytes(deflate)
    f["truncated-images-idx3-ubyte"] = good_idx[:16 + 3000]
    f["wrong_magic-images-idx3-ubyte"] = struct.pack("<I", 0x803) + good_idx[4:]
    f["not_idx-images-idx3-ubyte"] = b"\x89PNG\r\n\x1a\n" + bytes(200)
    f["extra_bytes-images-idx3-ubyte"] = good_idx + bytes(100)
    f["mismatch-images-idx3-ubyte"] = good_idx
    f["mismatch-labels-idx1-ubyte"] = idx(np.arange(9, dtype=np.uint8))
    f["only-labels-idx1-ubyte"] = idx(np.arange(10, dtype=np.uint8) % 3)
    f["flat-images-idx2-ubyte"] = idx(images.reshape(10, -1))
    f["rank1.npy"] = npy(np.arange(20, dtype=np.uint8))
    f["rank5.npy"] = npy(np.zeros((2, 2, 2, 2, 2), np.uint8))
    f["complex.npy"] = npy(np.ones((3, 4, 4), np.complex128))
    f["objects.npy"] = npy(np.array([[[1]], [[2]], [["x"]]], dtype=object))
    f["strings.npy"] = npy(np.array([[["a", "b"]], [["c", "d"]]]))
    f["float_range.npy"] = npy(np.linspace(-1, 3, 3 * 8 * 8).reshape(3, 8, 8).astype(np.float32))
    nan = np.full((3, 8, 8), 0.5, np.float32)
    nan[1, 2, 3] = np.nan
    f["nan_pixels.npy"] = npy(nan)
    f["one_image.npy"] = npy(tiny[None])
    f["bad_channels.npy"] = npy(np.zeros((4, 8, 8, 5), np.uint8))
    f["not_numpy.npy"] = b"just some text, not an array\n"
    f["no_images.npz"] = npz(a=np.arange(5), b=np.eye(2))
    f["bad_labels.npz"] = npz(x=np.zeros((6, 8, 8), np.uint8), y=np.arange(5))
    f["objects.npz"] = npz(x=np.array([None, 1, "a"], dtype=object))
    f["not_zip.npz"] = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    f["no_images/README.txt"] = b"No pictures here.\n"
    f["no_images/data.json"] = b'{"images": []}\n'
    f["broken_png/a.png"] = png(tiny)
    f["broken_png/b.png"] = png(255 - tiny)
    f["broken_png/broken.png"] = rng.integers(0, 256, 500, dtype=np.uint8).tobytes()
    big = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)  # noise compresses badly: cut.png is long enough to cut
    f["truncated_png/a.png"] = png(tiny)
    f["truncated_png/b.png"] = png(255 - tiny)
    f["truncated_png/cut.png"] = png(big)[:len(png(big)) // 2]
    f["loose_and_labelled/loose.png"] = png(tiny)
    f["loose_and_labelled/cats/c1.png"] = png(tiny)
    f["loose_and_labelled/dogs/d1.png"] = png(255 - tiny)
    f["single.png"] = png(tiny)
    f["empty.txt"] = b""
    f["whitespace.txt"] = b"  \n\n \t \n"
    f["binary.txt"] = b"abc\x00\x01\x02" + bytes(range(256))
    f["latin1.txt"] = "caf\u00e9\nna\u00efve\nr\u00e9sum\u00e9\n".encode("latin-1")
    f["one_line.txt"] = b"hello\n"
    f["text_in_row.csv"] = b"x,y\n1,2\n3,4\noops,5\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(10))
    f["three_columns.csv"] = b"x,y,z\n" + b"".join(b"%d,%d,%d\n" % (i, i, i) for i in range(12))
    f["nan.csv"] = b"x,y\n" + b"".join(b"%d,%d\n" % (i, -i) for i in range(10)) + b"nan,1\n"
    f["one_point.csv"] = b"x,y\n1.5,2.5\n"
    f["all_same.csv"] = b"1,2\n" * 12
    f["one_column.csv"] = b"".join(b"%d\n" % i for i in range(12))
    f["unknown.xyz"] = b"some data\n"
    return f


def write(folder: str) -> None:
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    for rel, data in contents().items():
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


def messages(folder: str) -> dict[str, str]:
    """What the importer says about each entry now (for the README)."""
    from genstudio.data.importers import DataError, import_path

    out = {}
    for entry, *_ in CASES:
        try:
            import_path(os.path.join(folder, entry))
            out[entry] = "(no error!)"
        except DataError as exc:
            out[entry] = str(exc)
    return out


def readme(said: dict[str, str]) -> str:
    lines = ["# Bad data files", "",
             "Written by `make_data_corpus.py` (run it to regenerate; the tests check the files match it).",
             "`tests/test_importers.py` imports each entry with `genstudio.data.importers.import_path` and",
             "expects a `DataError` whose one-line message names the file and contains the keyword.",
             "The last column is the message as the importer gave it when this file was written.", "",
             "| entry under data/ | what is wrong | message contains | names | message |", "|---|---|---|---|---|"]
    for entry, keyword, named, why in CASES:
        said_here = said.get(entry, "").replace("|", "\\|")
        lines.append(f"| `{entry}` | {why} | {keyword} | `{named}` | {said_here} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    write(os.path.join(HERE, "data"))
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the repository, for genstudio
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8") as fh:
        fh.write(readme(messages(os.path.join(HERE, "data"))))
    print(f"wrote {len(contents())} files for {len(CASES)} cases", file=sys.stderr)
