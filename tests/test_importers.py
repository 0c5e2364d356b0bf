"""The user's own data: every importer on small generated files, and every bad file in tests/corpus/data."""
from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from genstudio.data import importers
from genstudio.data.importers import DataError, import_path, is_data_path, preview_summary

CORPUS = os.path.join(os.path.dirname(__file__), "corpus")


def _corpus_module():
    spec = importlib.util.spec_from_file_location("make_data_corpus", os.path.join(CORPUS, "make_data_corpus.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKER = _corpus_module()


def idx_bytes(arr: np.ndarray) -> bytes:
    return struct.pack(">I", 0x800 | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write(path, data: bytes, gz: bool = False):
    with (gzip.open if gz else open)(path, "wb") as fh:
        fh.write(data)
    return str(path)


def pattern_images(n=30, side=28):
    """Image i is flat at 20 * label (label = i % 10) with one white pixel at (3, 5)."""
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = np.repeat((labels * 20)[:, None, None], side * side, 1).reshape(n, side, side).astype(np.uint8)
    images[:, 3, 5] = 255
    return images, labels


def check_split(ds, n):
    held = max(1, int(n * 0.1))
    assert len(ds.x) == n - held and len(ds.held_out) == held
    if ds.labels is not None:
        assert len(ds.labels) == len(ds.x) and len(ds.held_out_labels) == len(ds.held_out)
        assert ds.labels.dtype == np.int64


def check_images(ds, shape):
    assert ds.kind == "image" and ds.levels == 256
    assert ds.x.dtype == np.float32 and ds.x.shape[1:] == shape and ds.held_out.shape[1:] == shape
    both = np.concatenate([ds.x, ds.held_out])
    assert both.min() >= 0 and both.max() <= 1
    assert np.allclose(both * 255, np.rint(both * 255), atol=1e-4)  # 256 levels


# ---------------------------------------------------------------------------------------------
# IDX

@pytest.mark.parametrize("images_name, labels_name", [
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte.gz"),
    ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"),  # compressed images, plain labels
    ("my-images.idx", "my-labels.idx"),
])
def test_idx_with_labels_beside(tmp_path, images_name, labels_name):
    images, labels = pattern_images()
    path = write(tmp_path / images_name, idx_bytes(images), gz=images_name.endswith(".gz"))
    write(tmp_path / labels_name, idx_bytes(labels), gz=labels_name.endswith(".gz"))
    ds = import_path(path)
    check_images(ds, (1, 28, 28))
    check_split(ds, 30)
    assert ds.name == images_name and ds.source == os.path.abspath(path)
    assert ds.label_names == tuple(str(d) for d in range(10))
    # the pixels survive, at the right place, and every image keeps its own label
    for x, y in ((ds.x, ds.labels), (ds.held_out, ds.held_out_labels)):
        np.testing.assert_array_equal(x[:, 0, 3, 5], 1.0)
        body = np.rint(x[:, 0, 10, 10] * 255).astype(int)
        np.testing.assert_array_equal(body, y * 20)
    assert preview_summary(ds) == "30 images 28x28 grey, 10 labels (0-9)"


def test_idx_without_labels_and_resizing(tmp_path):
    images, _ = pattern_images(12)
    path = write(tmp_path / "digits-idx3-ubyte.gz", idx_bytes(images), gz=True)
    ds = import_path(path)
    assert ds.labels is None and ds.label_names == ()
    check_split(ds, 12)
    check_images(ds, (1, 28, 28))
    for size in (8, 16, 32):
        small = import_path(path, size=size)
        check_images(small, (1, size, size))
    rgb = import_path(path, size=16, color="rgb")
    check_images(rgb, (3, 16, 16))
    np.testing.assert_array_equal(rgb.x[:, 0], rgb.x[:, 2])  # grey stays grey in RGB


def test_keys_tell_sets_apart(tmp_path):
    images, _ = pattern_images(12)
    a = write(tmp_path / "a-images-idx3-ubyte", idx_bytes(images))
    b = write(tmp_path / "b-images-idx3-ubyte", idx_bytes(255 - images))
    c = write(tmp_path / "c-images-idx3-ubyte", idx_bytes(images))
    keys = {import_path(a).key, import_path(b).key, import_path(a, size=16).key, import_path(a, color="rgb").key}
    assert len(keys) == 4 and all(len(k) == 12 for k in keys)
    assert import_path(a).key == import_path(c).key == import_path(a, size=28, color="grey").key  # content, not name


def test_auto_size_picks_the_nearest():
    assert importers.auto_size(28, 28) == 28 and importers.auto_size(8, 8) == 8
    assert importers.auto_size(20, 20) == 16 and importers.auto_size(24, 24) == 28
    assert importers.auto_size(64, 48) == 32 and importers.auto_size(500, 300) == 32
    assert importers.auto_size(12, 12) == 16 and importers.auto_size(4, 4) == 8


# ---------------------------------------------------------------------------------------------
# NumPy

def test_npy_grey_uint8(tmp_path):
    images, _ = pattern_images(20, side=16)
    ds = import_path(write(tmp_path / "faces.npy", _npy(images)))
    check_images(ds, (1, 16, 16))
    check_split(ds, 20)
    assert ds.name == "faces.npy"
    np.testing.assert_array_equal(np.concatenate([ds.x, ds.held_out])[:, 0, 3, 5], 1.0)


def test_npy_rgb_uint8_and_grey_conversion(tmp_path):
    x = np.zeros((10, 8, 8, 3), np.uint8)
    x[..., 0] = 255  # pure red
    x[:, 1, 2] = (0, 0, 255)  # one blue pixel
    path = write(tmp_path / "red.npy", _npy(x))
    ds = import_path(path)
    check_images(ds, (3, 8, 8))
    both = np.concatenate([ds.x, ds.held_out])
    np.testing.assert_array_equal(both[:, :, 0, 0], [[1, 0, 0]] * 10)
    np.testing.assert_array_equal(both[:, :, 1, 2], [[0, 0, 1]] * 10)
    grey = import_path(path, color="grey")
    check_images(grey, (1, 8, 8))
    assert np.allclose(grey.x[:, 0, 0, 0], 76 / 255)  # Pillow's luma of pure red: 0.299 * 255
    assert np.allclose(grey.x[:, 0, 1, 2], 29 / 255)  # of pure blue: 0.114 * 255


def test_npy_float_quantised_and_layouts(tmp_path):
    rng = np.random.default_rng(0)
    unit = rng.random((10, 8, 8)).astype(np.float32)
    ds = import_path(write(tmp_path / "unit.npy", _npy(unit)))
    check_images(ds, (1, 8, 8))
    both = np.concatenate([ds.x, ds.held_out])[:, 0]
    order = np.concatenate(importers.split_indices(10))
    np.testing.assert_allclose(both, np.rint(unit[order] * 255) / 255, atol=1e-6)
    ds255 = import_path(write(tmp_path / "bytes.npy", _npy(unit * 255)))
    np.testing.assert_allclose(ds255.x, ds.x, atol=1e-6)
    # (N, C, H, W) as PyTorch stores it; RGBA loses its alpha; bool is black and white
    nchw = np.zeros((6, 3, 16, 16), np.float64)
    nchw[:, 1] = 1.0
    rgb = import_path(write(tmp_path / "nchw.npy", _npy(nchw)))
    check_images(rgb, (3, 16, 16))
    assert rgb.x[:, 1].min() == 1 and rgb.x[:, 0].max() == 0
    rgba = np.zeros((4, 8, 8, 4), np.uint8)
    rgba[..., 2] = 255
    rgba[..., 3] = 7
    assert import_path(write(tmp_path / "rgba.npy", _npy(rgba))).x.shape[1] == 3
    bw = import_path(write(tmp_path / "bw.npy", _npy(np.eye(8, dtype=bool)[None].repeat(4, 0))))
    assert set(np.unique(bw.x)) == {0.0, 1.0}


def test_npy_non_square_is_centre_cropped(tmp_path):
    wide = np.zeros((5, 16, 32), np.uint8)  # black left and right quarters, a white centre square
    wide[:, :, 8:24] = 255
    ds = import_path(write(tmp_path / "wide.npy", _npy(wide)))  # larger side 32 -> 32, from a 16x16 crop
    check_images(ds, (1, 32, 32))
    assert np.concatenate([ds.x, ds.held_out]).min() == 1.0
    tall = import_path(write(tmp_path / "tall.npy", _npy(wide.transpose(0, 2, 1))), size=16)
    assert tall.x.shape[1:] == (1, 16, 16) and tall.x.min() == 1.0


def test_rgb_with_equal_channels_is_grey_when_auto(tmp_path):
    grey3 = np.repeat(pattern_images(5, 8)[0][..., None], 3, -1)
    assert import_path(write(tmp_path / "g.npy", _npy(grey3))).x.shape[1] == 1
    assert import_path(str(tmp_path / "g.npy"), color="rgb").x.shape[1] == 3


def test_npz_with_labels(tmp_path):
    images, labels = pattern_images(40, side=28)
    path = tmp_path / "set.npz"
    np.savez_compressed(path, images=images, labels=labels.astype(np.int64) + 3, other=np.arange(3))
    ds = import_path(str(path), size=16)
    check_images(ds, (1, 16, 16))
    check_split(ds, 40)
    assert ds.label_names == tuple(str(v) for v in range(3, 13))  # values become class indices 0..9
    body = np.rint(ds.x[:, 0, 12, 12] * 255).astype(int)  # flat area, unchanged by resizing
    np.testing.assert_array_equal(body, ds.labels * 20)
    # no standard key: the first array of rank 3 or 4
    np.savez(tmp_path / "any.npz", meta=np.arange(4), pics=images[:5])
    assert len(import_path(str(tmp_path / "any.npz")).x) == 4


def test_pickle_is_never_called(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling was attempted")
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    for name in ("objects.npy", "objects.npz"):
        with pytest.raises(DataError, match="pickle"):
            import_path(os.path.join(CORPUS, "data", name))


def _npy(arr) -> bytes:
    import io
    out = io.BytesIO()
    np.save(out, arr)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Image folders

def _png(path, arr, fmt=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)


def test_folder_with_label_subfolders_mixed_sizes_and_modes(tmp_path):
    root = tmp_path / "pets"
    for i in range(6):  # cats: grey (mode L), mixed sizes, one non-square
        shape = [(8, 8), (16, 16), (10, 20)][i % 3]
        _png(str(root / "cats" / f"c{i}.png"), np.full(shape, 200, np.uint8))
    for i in range(5):  # dogs: blue RGB, one as BMP, one as JPEG
        arr = np.zeros((16, 16, 3), np.uint8)
        arr[..., 2] = 255
        ext = ["png", "bmp", "png", "png", "png"][i]
        _png(str(root / "dogs" / f"d{i}.{ext}"), arr)
    (root / "dogs" / "README.txt").write_text("skipped")
    (root / ".DS_Store").write_bytes(b"\0\1\2")
    (root / "cats" / ".hidden.png").write_bytes(b"not an image")  # hidden: skipped
    (root / "notes.md").write_text("skipped too")
    ds = import_path(str(root))
    assert ds.name == "pets" and ds.source == os.path.abspath(root)
    check_images(ds, (3, 16, 16))  # largest side 20 -> 16; colour because the dogs are blue
    check_split(ds, 11)
    assert ds.label_names == ("cats", "dogs")
    for x, y in ((ds.x, ds.labels), (ds.held_out, ds.held_out_labels)):
        for img, lab in zip(x, y):
            expect = np.array([200, 200, 200] if lab == 0 else [0, 0, 255])
            # every pixel: flat pictures stay flat through crop and resize, in their own class's colour
            np.testing.assert_array_equal(np.rint(img * 255), np.broadcast_to(expect[:, None, None], img.shape))
    grey = import_path(str(root), size=8, color="grey")
    check_images(grey, (1, 8, 8))
    assert np.allclose(sorted(set(np.round(grey.x.ravel() * 255).astype(int))), [29, 200])
    assert preview_summary(ds) == "11 images 16x16 RGB, 2 labels (cats, dogs)"


def test_folder_crops_the_centre_not_stretches(tmp_path):
    arr = np.zeros((28, 56), np.uint8)  # black left and right quarters, white centre square
    arr[:, 14:42] = 255
    for i in range(3):
        _png(str(tmp_path / "wide" / f"{i}.png"), arr)
    ds = import_path(str(tmp_path / "wide"), size=28)
    assert np.concatenate([ds.x, ds.held_out]).min() == 1.0


def test_flat_folder_jpeg_and_one_subfolder_have_no_labels(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(4):
        _png(str(tmp_path / "flat" / f"{i}.jpg"), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8), "JPEG")
    ds = import_path(str(tmp_path / "flat"))
    check_images(ds, (3, 32, 32))
    assert ds.labels is None
    for i in range(3):
        _png(str(tmp_path / "one" / "only" / f"{i}.png"), np.full((8, 8), 9, np.uint8))
    one = import_path(str(tmp_path / "one"))
    assert one.labels is None and one.label_names == () and one.x.shape[1:] == (1, 8, 8)


def test_image_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_IMAGES", 7)
    images, _ = pattern_images(20, 8)
    ds = import_path(write(tmp_path / "many.npy", _npy(images)))
    assert len(ds.x) + len(ds.held_out) == 7
    for i in range(9):
        _png(str(tmp_path / "pics" / f"{i}.png"), images[i])
    ds = import_path(str(tmp_path / "pics"))
    assert len(ds.x) + len(ds.held_out) == 7


# ---------------------------------------------------------------------------------------------
# Text

def test_text_one_item_per_line(tmp_path):
    words = [f"name{i}" for i in range(30)] + ["  spaced out  ", "x" * 100, "", "   "]
    path = tmp_path / "names.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(words).encode())  # with a BOM
    ds = import_path(str(path), size=8, color="rgb")  # ignored
    assert ds.kind == "text" and ds.name == "names.txt"
    items = set(ds.words) | set(ds.held_out_words)
    assert len(ds.words) + len(ds.held_out_words) == 32
    assert len(ds.held_out_words) == 3 and set(ds.words).isdisjoint(ds.held_out_words)
    assert "spaced out" in items and "x" * 64 in items and "\ufeffname0" not in items and "name0" in items
    assert ds.alphabet[0] == "\n" and all(ds.alphabet[0] not in w for w in items)
    assert set(ds.alphabet[1:]) == set("".join(items)) and list(ds.alphabet[1:]) == sorted(ds.alphabet[1:])
    assert preview_summary(ds) == f"32 items, {len(ds.alphabet) - 1} characters, longest 64"


def test_free_text_is_cut_at_word_boundaries(tmp_path):
    sentence = "The quick brown fox jumps over the lazy dog, again and again, until it is tired. "
    text = (sentence * 20).replace("again, ", "again,\n\t")
    (tmp_path / "story.txt").write_text(text, encoding="utf-8")
    ds = import_path(str(tmp_path / "story.txt"))
    items = ds.words + ds.held_out_words
    assert all(0 < len(w) <= 64 for w in items) and len(items) >= 25
    assert sorted(" ".join(items).split()) == sorted(text.split())  # every word kept whole
    assert all("\n" not in w and "\t" not in w and "  " not in w for w in items)
    assert ds.alphabet[0] == "\n" and "\n" not in "".join(items)


# ---------------------------------------------------------------------------------------------
# Points

@pytest.mark.parametrize("text, sep", [
    ("x,y\n{rows}", ","),
    ("{rows}", ","),
    ("a;b\n{rows}", ";"),
    ("{rows}", "\t"),
    ('"x","y"\n{rows}', ","),
])
def test_csv_points(tmp_path, text, sep):
    rng = np.random.default_rng(1)
    pts = rng.normal([3, -2], [1, 4], (50, 2)).round(3)
    rows = "\n".join(f"{a}{sep}{b}" for a, b in pts) + "\n"
    (tmp_path / "pts.csv").write_text(text.format(rows=rows))
    ds = import_path(str(tmp_path / "pts.csv"))
    assert ds.kind == "points" and ds.modes is None and ds.name == "pts.csv"
    assert ds.x.dtype == np.float32 and ds.x.shape == (45, 2) and ds.held_out.shape == (5, 2)
    both = np.concatenate([ds.x, ds.held_out])
    np.testing.assert_allclose(np.sort(both, 0), np.sort(pts, 0).astype(np.float32))  # user's units
    np.testing.assert_allclose(ds.shift, ds.x.mean(0), rtol=1e-5)
    assert ds.shift.dtype == np.float32 and ds.scale == pytest.approx(float(ds.x.std(0).mean()), rel=1e-5)
    assert ds.scale > 0 and preview_summary(ds) == "50 points"


def test_csv_decimal_commas(tmp_path):
    (tmp_path / "eu.csv").write_text("x;y\n" + "".join(f"{i},5;-{i},25\n" for i in range(12)))
    ds = import_path(str(tmp_path / "eu.csv"))
    both = np.concatenate([ds.x, ds.held_out])
    assert sorted(both[:, 0]) == [i + 0.5 for i in range(12)]
    assert sorted(both[:, 1]) == sorted(-i - 0.25 for i in range(12))


def test_excel_unicode_text_tab_separated(tmp_path):
    rows = "x\ty\n" + "".join(f"{i}\t{i % 3}\n" for i in range(15))
    (tmp_path / "excel.csv").write_bytes(rows.encode("utf-16"))  # with a BOM, as Excel writes it
    ds = import_path(str(tmp_path / "excel.csv"))
    assert sorted(np.concatenate([ds.x, ds.held_out])[:, 0]) == list(range(15))


# ---------------------------------------------------------------------------------------------
# Bad input

CASES = MAKER.CASES


@pytest.mark.parametrize("entry, keyword, named, why", CASES, ids=[c[0] for c in CASES])
def test_corpus_entry_is_refused_clearly(entry, keyword, named, why):
    with pytest.raises(DataError) as info:
        import_path(os.path.join(CORPUS, "data", entry))
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    assert named in message, message
    assert keyword in message, message
    assert "Traceback" not in message and len(message) < 300


def test_corpus_is_what_the_script_writes():
    """Every committed file is the script's output (and every case's entry exists)."""
    expected = MAKER.contents()
    data = os.path.join(CORPUS, "data")
    found = {}
    for folder, _, files in os.walk(data):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                found[os.path.relpath(path, data).replace(os.sep, "/")] = fh.read()
    assert found.keys() == expected.keys()
    assert all(found[k] == expected[k] for k in expected), [k for k in expected if found[k] != expected[k]]
    assert all(len(v) < 20_000 for v in found.values())
    tops = {k.split("/")[0] for k in found}
    assert {c[0] for c in CASES} == tops
    with open(os.path.join(CORPUS, "README.md"), encoding="utf-8") as fh:
        rows = {line.split("|")[1].strip(" `"): line for line in fh if line.startswith("| `")}
    assert rows.keys() == {c[0] for c in CASES}
    for entry, keyword, named, _ in CASES:
        assert f"| {keyword} | `{named}` |" in rows[entry] and "(no error!)" not in rows[entry]


def test_missing_path():
    with pytest.raises(DataError, match="no such file or folder") as info:
        import_path("/nowhere/at/all/train-images-idx3-ubyte.gz")
    assert "/nowhere/at/all/train-images-idx3-ubyte.gz" in str(info.value)


def test_bad_arguments(tmp_path):
    path = write(tmp_path / "ok.npy", _npy(pattern_images(4, 8)[0]))
    with pytest.raises(DataError, match="size 12"):
        import_path(path, size=12)
    with pytest.raises(DataError, match="colour 'cmyk'"):
        import_path(path, color="cmyk")


def test_size_limit(tmp_path, monkeypatch):
    images, _ = pattern_images(20, 28)
    plain = write(tmp_path / "big-images-idx3-ubyte", idx_bytes(images))
    packed = write(tmp_path / "small-images-idx3-ubyte.gz", idx_bytes(np.zeros((300, 28, 28), np.uint8)), gz=True)
    monkeypatch.setattr(importers, "MAX_BYTES", 10_000)
    assert os.path.getsize(packed) < 10_000
    with pytest.raises(DataError, match="too big"):
        import_path(plain)
    with pytest.raises(DataError, match="decompressed"):  # a small .gz that unpacks past the limit
        import_path(packed)


def test_read_errors_are_data_errors(tmp_path, monkeypatch):
    path = write(tmp_path / "locked.txt", b"a\nb\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(importers, "open", denied, raising=False)  # as for a file without read permission
    with pytest.raises(DataError, match="^locked.txt: cannot read: Permission denied$"):
        import_path(path)


def test_data_error_is_one_line():
    assert str(DataError("a.txt: first\nsecond  line")) == "a.txt: first second line"
    assert issubclass(DataError, ValueError)


def test_is_data_path(tmp_path):
    for name in ("train-images-idx3-ubyte", "t10k-labels.idx1-ubyte.gz", "x.npz", "x.NPY", "a.txt", "p.csv",
                 "data.idx"):
        assert is_data_path(name), name
    for name in ("photo.png", "notes.md", "model.safetensors", "x.json"):
        assert not is_data_path(name), name
    assert is_data_path(str(tmp_path))
    assert all(ext.startswith((".", "-")) for ext in importers.DATA_EXTENSIONS)


def _fuzz_seeds(rng) -> dict[str, bytes]:
    import io as _io
    imgs = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)

    def saved(fn, **kw):
        out = _io.BytesIO()
        fn(out, **kw)
        return out.getvalue()
    return {
        "a-images-idx3-ubyte": idx_bytes(imgs), "b-images-idx3-ubyte.gz": gzip.compress(idx_bytes(imgs), mtime=0),
        "c.npy": _npy(imgs), "d.npz": saved(lambda f: np.savez_compressed(f, x=imgs, y=np.arange(6))),
        "e.txt": "\n".join(f"w{i}\u00e9" for i in range(20)).encode(),
        "f.csv": b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(20)),
        "g.png": saved(lambda f: Image.fromarray(imgs[0]).save(f, format="PNG")),
        "h.jpg": saved(lambda f: Image.fromarray(np.repeat(imgs[1][..., None], 3, -1)).save(f, format="JPEG")),
    }


def test_damaged_files_give_data_errors_only(tmp_path):
    """Cut, flipped and inserted bytes in every kind of file: a Dataset or a one-line DataError, nothing else."""
    rng = np.random.default_rng(5)
    for name, data in _fuzz_seeds(rng).items():
        for trial in range(40):
            b = bytearray(data)
            if trial % 3 == 0:
                b = b[:rng.integers(0, len(b))]
            elif trial % 3 == 1:
                for _ in range(rng.integers(1, 6)):
                    b[rng.integers(0, len(b))] = rng.integers(0, 256)
            else:
                pos = rng.integers(0, len(b))
                b[pos:pos] = rng.integers(0, 256, rng.integers(1, 20), dtype=np.uint8).tobytes()
            case = tmp_path / f"{name}-{trial}"
            case.mkdir()
            if name.endswith((".png", ".jpg")):  # images go in a folder, beside a good one
                _png(str(case / "good.png"), np.zeros((8, 8), np.uint8))
                (case / name).write_bytes(bytes(b))
                path = str(case)
            else:
                path = str(case / name)
                (case / name).write_bytes(bytes(b))
            try:
                import_path(path)
            except DataError as exc:
                assert "\n" not in str(exc)
