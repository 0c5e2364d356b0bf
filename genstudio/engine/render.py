"""Pictures of samples without Qt: image grids, 2D scatters over the data, word lists (PNG via Pillow)."""
from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
from PIL import Image, ImageDraw

from ..storage import atomic_path


def image_grid(images: np.ndarray, scale: int = 4, pad: int = 1, cols: int | None = None) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (rows*H', cols*W', 3) uint8, upscaled by `scale` with a gap of `pad`,
    filled row by row (`cols` columns; default: about square)."""
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell_h, cell_w = h * scale + pad, w * scale + pad
    out = np.full((rows * cell_h + pad, cols * cell_w + pad, 3), 40, np.uint8)
    pix = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    pix = np.repeat(np.repeat(pix, scale, axis=2), scale, axis=3)
    if c == 1:
        pix = np.repeat(pix, 3, axis=1)
    for i in range(n):
        r, q = divmod(i, cols)
        y, x = pad + r * cell_h, pad + q * cell_w
        out[y:y + h * scale, x:x + w * scale] = pix[i].transpose(1, 2, 0)
    return out


def scatter(samples: np.ndarray, reference: np.ndarray, size: int = 512) -> np.ndarray:
    """Samples (orange) over reference data (grey), framed to the reference's extent."""
    lo, hi = reference.min(0), reference.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * 1.15 + 1e-6
    img = Image.new("RGB", (size, size), (250, 250, 250))
    draw = ImageDraw.Draw(img)

    def to_px(p):
        return ((p - centre) / half * 0.5 + 0.5) * (size - 1)

    for pts, colour, r in ((reference, (170, 170, 170), 1), (samples, (230, 110, 20), 2)):
        finite = pts[np.isfinite(pts).all(1)]
        for x, y in to_px(finite):
            y = size - 1 - y
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return np.asarray(img)


def word_list(words: list[str], columns: int = 4, size: tuple[int, int] = (512, 384)) -> np.ndarray:
    img = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(img)
    col_w = size[0] // columns
    rows = size[1] // 16
    for i, word in enumerate(words[:columns * rows]):
        c, r = divmod(i, rows)
        draw.text((8 + c * col_w, 4 + r * 16), word or "(empty)", fill=(20, 20, 20))
    return np.asarray(img)


def render_samples(samples, ds) -> np.ndarray:
    if ds.kind == "points":
        return scatter(np.asarray(samples), ds.held_out)
    if ds.kind == "image":
        return image_grid(np.asarray(samples))
    return word_list(list(samples))


def save_png(pixels: np.ndarray, path: str) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")


def save_gif(frames: list[np.ndarray], path: str, ms_per_frame: int = 120) -> None:
    """An animated GIF of RGB frames (the timeline), written atomically."""
    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)


def mp4_encoder() -> str | None:
    """An ffmpeg executable: on the PATH, or the one the imageio-ffmpeg package ships; None if neither."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or its binary is missing
        return None


def save_mp4(frames: list[np.ndarray], path: str, fps: int = 8) -> None:
    """An H.264 MP4 of RGB frames through ffmpeg, written atomically. OSError when there is no encoder."""
    exe = mp4_encoder()
    if exe is None:
        raise OSError("MP4 export needs ffmpeg: install it (or `pip install imageio-ffmpeg`), or export a GIF")
    h, w = frames[0].shape[:2]
    height, width = h + h % 2, w + w % 2  # yuv420p wants even sides
    with atomic_path(path) as tmp:
        proc = subprocess.Popen([exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                 "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                                 "-pix_fmt", "yuv420p", "-f", "mp4", tmp],
                                stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        canvas = np.zeros((height, width, 3), np.uint8)
        try:
            for frame in frames:
                canvas[:h, :w] = frame[..., :3]
                proc.stdin.write(canvas.tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its message follows
        _, err = proc.communicate()
        if proc.returncode:
            raise OSError(f"ffmpeg could not write the video: {err.decode(errors='replace').strip()[-200:]}")
