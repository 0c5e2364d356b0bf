"""Draws genstudio/resources/icon.png: blue noise drawn towards a ring of eight orange modes, the
picture the GAN and diffusion lessons on ring8 end on. Run it again only to change the icon."""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image, ImageDraw

SIZE = 512          # drawn at 512 and saved at 256: smooth edges without an antialiasing pass
OUT = os.path.join(os.path.dirname(__file__), "..", "genstudio", "resources", "icon.png")
MODES = 8


def draw() -> Image.Image:
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((16, 16, SIZE - 16, SIZE - 16), radius=96, fill=(24, 36, 56, 255))
    rng = np.random.default_rng(3)
    centre, radius = SIZE / 2, SIZE * 0.3
    for _ in range(70):  # noise, inside the ring
        p = centre + rng.uniform(-1, 1, 2) * radius * 0.62
        d.ellipse((p[0] - 8, p[1] - 8, p[0] + 8, p[1] + 8), fill=(120, 165, 220, 200))
    for k in range(MODES):  # data: eight tight modes
        angle = 2 * math.pi * k / MODES
        mode = np.array([centre + radius * math.cos(angle), centre + radius * math.sin(angle)])
        for p in mode + rng.normal(0, SIZE * 0.02, (14, 2)):
            d.ellipse((p[0] - 10, p[1] - 10, p[0] + 10, p[1] + 10), fill=(255, 170, 60, 235))
    return img.resize((256, 256), Image.LANCZOS)


if __name__ == "__main__":
    draw().save(OUT)
    print(f"wrote {os.path.normpath(OUT)}")
