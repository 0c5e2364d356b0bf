"""A stand-in for a real 28x28 handwritten-digit set, made offline: digits drawn with the fonts this
machine has, slanted, thickened and warped, then centred as MNIST is (fit into 20x20, centre of mass
at the middle of 28x28), written as MNIST-style IDX files, the way a user would import one. With
--rgb: the same digits at 32x32 in a random colour on a random background, as an .npz with labels.

    python -m genstudio.bench.digits28 DIR [--n 10000] [--seed 0] [--rgb]

Tuning on it is tuning on what we can make; the defaults are checked on real digits elsewhere."""
from __future__ import annotations

import argparse
import glob
import os
import struct

import numpy as np

FONT_GLOBS = ("/usr/share/fonts/**/*.ttf", "/usr/share/fonts/**/*.otf", "/Library/Fonts/*.ttf",
              "C:/Windows/Fonts/*.ttf")


def _fonts() -> list:
    """Every TrueType font installed, at two sizes; Pillow's own font where none is (a bare machine)."""
    from PIL import ImageFont

    found = sorted({p for pattern in FONT_GLOBS for p in glob.glob(pattern, recursive=True)})
    if not found:
        return [ImageFont.load_default(size) for size in (34, 40)]
    fonts = []
    for path in found:
        try:
            fonts += [ImageFont.truetype(path, size) for size in (34, 40)]
        except OSError:  # a font file Pillow cannot read
            continue
    return fonts or [ImageFont.load_default(size) for size in (34, 40)]


def _digit(draw_font, digit: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    canvas = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(canvas).text((32, 32), str(digit), fill=255, font=draw_font, anchor="mm")
    thickness = rng.choice([0, 0, 1, 1, 2])
    if thickness:
        canvas = canvas.filter(ImageFilter.MaxFilter(2 * thickness + 1))
    shear, angle = rng.uniform(-0.35, 0.35), rng.uniform(-15, 15)
    canvas = canvas.transform((64, 64), Image.AFFINE, (1, shear, -shear * 32, 0, 1, 0), Image.BILINEAR)
    canvas = canvas.rotate(angle, Image.BILINEAR)
    return np.asarray(canvas, np.float32) / 255


def _warp(img: np.ndarray, rng: np.random.Generator, alpha: float = 8.0, sigma: float = 6.0) -> np.ndarray:
    """Elastic distortion (Simard et al. 2003): a smooth random displacement field."""
    from scipy.ndimage import gaussian_filter, map_coordinates

    dx = gaussian_filter(rng.uniform(-1, 1, img.shape), sigma) * alpha
    dy = gaussian_filter(rng.uniform(-1, 1, img.shape), sigma) * alpha
    y, x = np.mgrid[:img.shape[0], :img.shape[1]]
    return map_coordinates(img, [y + dy, x + dx], order=1)


def _centre_like_mnist(img: np.ndarray) -> np.ndarray:
    """Crop to the ink, fit into 20x20 keeping the aspect, place the centre of mass at (14, 14)."""
    from PIL import Image
    from scipy.ndimage import center_of_mass, shift

    rows, cols = np.nonzero(img > 0.05)
    crop = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = 20 / max(h, w)
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    out = np.zeros((28, 28), np.float32)
    s = np.asarray(small, np.float32) / 255
    top, left = (28 - s.shape[0]) // 2, (28 - s.shape[1]) // 2
    out[top:top + s.shape[0], left:left + s.shape[1]] = s
    cy, cx = center_of_mass(out)
    return np.clip(shift(out, (14 - cy, 14 - cx), order=1), 0, 1)


def make(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 images and (n,) uint8 labels, balanced over the ten digits."""
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    images = np.zeros((n, 28, 28), np.uint8)
    for i, digit in enumerate(labels):
        img = _warp(_digit(fonts[rng.integers(len(fonts))], int(digit), rng), rng)
        images[i] = np.rint(_centre_like_mnist(img) * 255).astype(np.uint8)
    return images, labels


def colour(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, 28, 28) grey digits as (n, 32, 32, 3) RGB: each a random ink colour on a random background."""
    rng = np.random.default_rng(seed + 1)
    n = len(images)
    ink = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32)[..., None] / 255
    fg, bg = rng.uniform(0.4, 1.0, (n, 1, 1, 3)), rng.uniform(0.0, 0.5, (n, 1, 1, 3))
    return np.rint((bg * (1 - ink) + fg * ink) * 255).astype(np.uint8)


def write_idx(path: str, arr: np.ndarray) -> None:
    magic = 2051 if arr.ndim == 3 else 2049
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


def ensure(directory: str, n: int = 10000, seed: int = 0, rgb: bool = False) -> str:
    """The set's file (IDX images with labels beside; --rgb: an .npz), made once per directory, size,
    seed and colour; returns its path."""
    os.makedirs(directory, exist_ok=True)
    if rgb:
        path = os.path.join(directory, f"digits32rgb-{n}-{seed}.npz")
        if not os.path.exists(path):
            images, labels = make(n, seed)
            with open(path + ".part", "wb") as fh:
                np.savez(fh, x=colour(images, seed), y=labels)
            os.replace(path + ".part", path)
        return path
    images_path = os.path.join(directory, f"digits28-{n}-{seed}-images-idx3-ubyte")
    if not os.path.exists(images_path):
        images, labels = make(n, seed)
        write_idx(images_path + ".part", images)
        write_idx(os.path.join(directory, f"digits28-{n}-{seed}-labels-idx1-ubyte"), labels)
        os.replace(images_path + ".part", images_path)
    return images_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rgb", action="store_true", help="32x32 colour digits in an .npz")
    args = parser.parse_args(argv)
    print(ensure(args.dir, args.n, args.seed, args.rgb))


if __name__ == "__main__":
    main()
