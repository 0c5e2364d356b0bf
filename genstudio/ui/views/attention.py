"""Inside the transformer: two pages of the autoregressive view.

"What it looks at": every head's attention while the model writes a sample of the Write page, scrubbed
token by token beside the next-token bars, and, below, a head's pattern on a fixed held-out item at
each snapshot of training (the heads forming). "Embeddings": the learned token embeddings on their two
principal components; a click lists a token's nearest neighbours. The maps are explorer answers and
snapshot probes (engine/attention.py says what they mean); this module only draws them.
"""
from __future__ import annotations

import html
from collections import deque

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout, QWidget

from ...engine.attention import head_shares, nearest_tokens, pattern_name, probe_maps
from ..theme import plot_widget, text_area_css
from .base import ImagePanel, help_area, set_help

LOOK = np.array([232, 115, 14], np.float32)      # attention, on the pictures and the letters
CURSOR = np.array([90, 200, 255], np.float32)    # the position being written
UNWRITTEN = np.array([40, 60, 110], np.float32)
STAGES = {"sequence": "every token (one model)", "rows": "rows (the global model)",
          "pixels": "pixels in the row (the local model)"}
SHARE_COLOURS = {"previous": "#d62728", "first": "#2ca02c", "self": "#1f77b4"}
PROBES_KEPT = 200
VOWELS = set("aeiou")

TEXT = {
    "look": "Each head of each layer mixes what the model has read so far. The shade is how much of its "
            "attention one head gives each earlier token while the model writes the orange one (the start, "
            "▸, counts too; each row of shades sums to 1). Scrub to watch it move; it never looks ahead.",
    "rows": "Large images have two models. The global one reads whole rows: it looks at the rows above. The "
            "local one writes the row pixel by pixel: it looks at the pixels before, in this row only.",
    "forming": "One head, on the same held-out {item} at every snapshot: where each position (rows, top to "
               "bottom) looks (columns). A line just left of the diagonal is a previous-token head, a column "
               "on the left a first-token head. The curves are its shares over training.",
    "embeddings": "Each token's learned vector (its embedding), flattened onto the two directions in which "
                  "the vectors differ most (PCA). Tokens the model uses alike end up close. Click one to list "
                  "its nearest neighbours.",
}


# drawing (numpy only: the tests check these) -------------------------------------------------------
def key_weights(maps: dict[str, np.ndarray], stage: str, layer: int, head: int, position: int,
                row_len: int) -> np.ndarray:
    """The weights over earlier positions (keys) of one head while `position` is written."""
    a = maps[stage][layer, head]
    if stage == "sequence":
        return a[position, :position + 1]
    if stage == "rows":
        r = position // row_len
        return a[r, :r + 1]
    r, p = divmod(position, row_len)
    return a[r, p, :p + 1]


def weight_picture(weights: np.ndarray, stage: str, position: int, shape: tuple, order: str,
                   row_len: int) -> np.ndarray:
    """(H, W): the weights of key_weights on the pixels they stand for (key 0, the start, left out)."""
    c, h, w = shape
    out = np.zeros(h * w, np.float32)
    if stage == "sequence":   # key j: the token written j-1 positions after the start
        tokens = np.arange(len(weights) - 1)
        pixels = tokens // c if order == "hwc" else tokens % (h * w)
        np.add.at(out, pixels, weights[1:])
    elif stage == "rows":     # key j: row j-1, spread over the row
        out = out.reshape(h, w)
        out[:len(weights) - 1] = weights[1:, None] / w
        return out
    else:                     # key j: pixel j-1 of this row
        r = position // row_len
        np.add.at(out, r * w + np.arange(len(weights) - 1) // c, weights[1:])
    return out.reshape(h, w)


def attention_tile(values: np.ndarray, written: np.ndarray, weight: np.ndarray, cursor: tuple[int, int]) -> np.ndarray:
    """RGB (H, W, 3): the sample written so far (grey, dimmed; unwritten pixels blue) with the attention
    in orange (strongest at full colour) and the pixel being written in light blue."""
    base = np.repeat(values[..., None] * 140.0, 3, -1)
    base[~written] = UNWRITTEN
    alpha = 0.85 * (weight / max(float(weight.max()), 1e-6))[..., None]   # the sample shows through
    tile = base * (1 - alpha) + LOOK * alpha
    tile[cursor] = CURSOR
    return tile.astype(np.uint8)


def tiles(pictures: list[np.ndarray], scale: int, pad: int = 2) -> np.ndarray:
    """Tiles side by side, upscaled, on the panel's dark ground."""
    h, w = pictures[0].shape[:2]
    out = np.full((h * scale + 2 * pad, len(pictures) * (w * scale + pad) + pad, 3), 40, np.uint8)
    for i, picture in enumerate(pictures):
        x = pad + i * (w * scale + pad)
        out[pad:pad + h * scale, x:x + w * scale] = np.repeat(np.repeat(picture, scale, 0), scale, 1)
    return out


def matrix_picture(a: np.ndarray) -> np.ndarray:
    """A head's whole map (queries x keys) as RGB: white to orange, the future (above the diagonal) grey."""
    n = a.shape[-1]
    alpha = (a / max(float(a.max()), 1e-6))[..., None]
    rgb = 255 * (1 - alpha) + LOOK * alpha
    rgb[np.triu(np.ones((n, n), bool), 1)] = 200
    return rgb.astype(np.uint8)


def text_row(chars: list[str], weights: np.ndarray, writing: str) -> str:
    """HTML: the start and the characters read, each shaded by its weight, then the one being written."""
    peak = max(float(weights.max()), 1e-6)
    cells = []
    for ch, wgt in zip(["▸", *chars], weights):
        shade = f"rgba(232,115,14,{wgt / peak:.2f})"
        cells.append(f"<span style='background:{shade}' title='{wgt:.0%}'>{html.escape(ch)}</span>")
    return "".join(cells) + f"<span style='color:#e8730e'><u>{html.escape(writing)}</u></span>"


# the pages -----------------------------------------------------------------------------------------
class AttentionPage(QWidget):
    """What each head looks at while one written sample is written; the heads forming below. The
    owner (ARView) asks for maps and hands them in (`show_maps`, `add_probe`)."""

    def __init__(self, pg, ask, parent=None):
        super().__init__(parent)
        self.pg = pg
        self.ask = ask                  # ask(sample index): the owner requests that sample's maps
        self.maps = None                # stage -> (layers, heads, ...): the shown sample's
        self.sample_tokens = None
        self.probs = None               # (positions, vocab): the sample's next-token distributions
        self.info = None
        self.ticks = None
        self.probes: deque = deque(maxlen=PROBES_KEPT)   # (step, maps, shares by head, the probe's tokens)
        self.sample = QSpinBox()
        self.sample.setMinimum(1)
        self.sample.setToolTip("Which sample of the Write page's batch")
        self.sample.valueChanged.connect(lambda v: self.ask(v - 1))
        self.stage = QComboBox()
        self.stage.setToolTip("Large images: the global model (rows) or the local model (pixels in a row)")
        self.layer = QComboBox()
        self.head = QComboBox()
        for combo in (self.stage, self.layer, self.head):
            combo.currentIndexChanged.connect(self.redraw)
        self.stage.currentIndexChanged.connect(self._fill_heads)
        self.scrub = QSlider(Qt.Horizontal)
        self.scrub.valueChanged.connect(self.show_position)
        self.position_label = QLabel("")
        controls = QHBoxLayout()
        for widget in (QLabel("sample"), self.sample, self.stage, QLabel("layer"), self.layer, QLabel("head"),
                       self.head):
            controls.addWidget(widget)
        controls.addStretch(1)
        scrub_row = QHBoxLayout()
        scrub_row.addWidget(QLabel("writing"))
        scrub_row.addWidget(self.scrub, 1)
        scrub_row.addWidget(self.position_label)
        # the picture: lines of shaded characters, or tiles of images
        self.lines = QLabel("")
        self.lines.setTextFormat(Qt.RichText)
        self.lines.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.lines.setStyleSheet("font-family: monospace; font-size: 13pt; " + text_area_css() + " padding: 6px;")
        self.panel = ImagePanel(pg, "")
        self.bars_plot = plot_widget(pg, title="next-token distribution")
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.setYRange(0, 1)
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush="#5aa0e6")
        self.bars_plot.addItem(self.bars)
        self.help = help_area([TEXT["look"]], 90)
        left = QVBoxLayout()
        left.addWidget(self.lines, 1)
        left.addWidget(self.panel.widget, 3)
        left.addWidget(self.bars_plot, 2)
        left.addWidget(self.help)
        # the heads forming: the chosen head on the probe, and its shares over training
        self.probe_panel = ImagePanel(pg, "on the probe")
        self.probe_panel.widget.setMinimumHeight(170)
        self.share_plot = plot_widget(pg, title="the head's attention over training")
        self.share_plot.setMinimumHeight(130)
        self.share_plot.setYRange(0, 1)
        self.share_plot.getAxis("bottom").setLabel("step")
        self.share_plot.getAxis("left").setLabel("share")
        self.share_curves = {name: self.share_plot.plot(pen=pg.mkPen(colour, width=2), name=label)
                             for name, colour, label in (("previous", SHARE_COLOURS["previous"], "one back"),
                                                         ("first", SHARE_COLOURS["first"], "the start"),
                                                         ("self", SHARE_COLOURS["self"], "itself"))}
        self.step_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.DashLine))
        self.share_plot.addItem(self.step_line)
        self.probe_scrub = QSlider(Qt.Horizontal)
        self.probe_scrub.setToolTip("The snapshot whose head is shown")
        self.probe_scrub.valueChanged.connect(self._show_probe)
        self.pattern = QLabel("")
        self.pattern.setWordWrap(True)
        self.legend = QLabel("share of its attention: " + " · ".join(
            f"<span style='color:{SHARE_COLOURS[name]}'>■ {label}</span>"
            for name, label in (("previous", "one position back"), ("first", "the start"), ("self", "itself"))))
        self.forming_help = help_area([], 90)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>Heads forming</b>: the chosen layer and head at each snapshot"))
        right.addWidget(self.probe_panel.widget, 2)
        right.addWidget(self.probe_scrub)
        right.addWidget(self.pattern)
        right.addWidget(self.share_plot, 3)
        right.addWidget(self.legend)
        right.addWidget(self.forming_help)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)
        col = QVBoxLayout(self)
        col.addLayout(controls)
        col.addLayout(scrub_row)
        col.addLayout(body, 1)

    # a new run --------------------------------------------------------------------------------------
    def on_run(self, info, cfg) -> None:
        self.info, self.cfg = info, cfg
        self.maps = self.sample_tokens = self.probs = None
        self.probes.clear()
        text = info.dataset.kind == "text"
        self.lines.setVisible(text)
        self.panel.widget.setVisible(not text)
        self.panel.clear()
        self.probe_panel.clear()
        self.lines.setText("Write a batch on the Write page: its samples come here.")
        for curve in self.share_curves.values():
            curve.setData([], [])
        self.pattern.setText("")
        self.stage.blockSignals(True)
        self.stage.clear()
        self.stage.setVisible(False)
        self.stage.blockSignals(False)
        set_help(self.forming_help, [TEXT["forming"].format(item="name" if text else "image")])
        set_help(self.help, [TEXT["look"]])

    def _know_stages(self, stages) -> None:
        """The stages of the model's maps (a large image's two models), known from the first maps."""
        stages = [s for s in STAGES if s in stages]
        if [self.stage.itemData(i) for i in range(self.stage.count())] == stages:
            return
        self.stage.blockSignals(True)
        self.stage.clear()
        for stage in stages:
            self.stage.addItem(STAGES[stage], stage)
        self.stage.setVisible(len(stages) > 1)
        self.stage.blockSignals(False)
        set_help(self.help, [TEXT["look"]] + ([TEXT["rows"]] if len(stages) > 1 else []))
        self._fill_heads()

    def _fill_heads(self) -> None:
        """Layers and heads of the chosen stage (the local model of a large image has its own)."""
        stage = self.stage.currentData()
        if stage is None:
            return
        layers, heads = self._stage_size(stage)
        for combo, items in ((self.layer, [str(i + 1) for i in range(layers)]),
                             (self.head, ["all"] + [str(i + 1) for i in range(heads)])):
            keep = combo.currentIndex()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.setCurrentIndex(keep if 0 <= keep < len(items) else 0)
            combo.blockSignals(False)
        self.redraw()

    def _stage_size(self, stage: str) -> tuple[int, int]:
        """(layers, heads) of a stage, from the maps at hand."""
        for maps in ([self.maps] if self.maps is not None else []) + [p[1] for p in list(self.probes)[-1:]]:
            if stage in maps:
                return maps[stage].shape[:2]
        return 1, 1

    # a written sample ---------------------------------------------------------------------------------
    def set_batch(self, count: int) -> None:
        self.sample.blockSignals(True)
        self.sample.setMaximum(max(1, count))
        self.sample.blockSignals(False)

    def show_maps(self, maps: dict, tokens: np.ndarray, probs: np.ndarray) -> None:
        self.maps, self.sample_tokens, self.probs = maps, tokens, probs
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, self._last_position())
        self.scrub.blockSignals(False)
        self._know_stages(maps)
        self._fill_heads()

    def _last_position(self) -> int:
        tokens = self.sample_tokens
        if self.info.dataset.kind == "text" and (tokens == 0).any():
            return int(np.flatnonzero(tokens == 0)[0])   # the end of the line
        return len(tokens) - 1

    def redraw(self) -> None:
        if self.maps is not None:
            self.show_position(self.scrub.value())
        self._show_probe(self.probe_scrub.value())

    def chosen(self) -> tuple[str, int, list[int]]:
        heads = self._stage_size(self.stage.currentData())[1]
        head = self.head.currentIndex() - 1
        return self.stage.currentData(), max(0, self.layer.currentIndex()), list(range(heads)) if head < 0 else [head]

    def show_position(self, position: int) -> None:
        """Every chosen head's weights while token `position` of the sample is written."""
        if self.maps is None:
            return
        stage, layer, heads = self.chosen()
        ds, tokens = self.info.dataset, self.sample_tokens
        self.position_label.setText(f"token {position + 1} of {len(tokens)}")
        row_len = self._row_len()
        weights = [key_weights(self.maps, stage, layer, h, position, row_len) for h in heads]
        if ds.kind == "text":
            alphabet = ds.alphabet
            chars = [alphabet[t] for t in tokens[:position]]
            writing = "end" if tokens[position] == 0 else alphabet[tokens[position]]
            rows = [f"<span style='color:#888'>head {h + 1}</span>&nbsp;{text_row(chars, w, writing)}"
                    for h, w in zip(heads, weights)]
            self.lines.setText("<br>".join(rows))
            self.shown_text = rows
        else:
            self._show_tiles(stage, heads, weights, position)
        self._bars(position)

    def _row_len(self) -> int:
        c, _, w = self.info.dataset.image_shape if self.info.dataset.kind == "image" else (1, 1, 1)
        return c * w

    def _show_tiles(self, stage, heads, weights, position) -> None:
        ds = self.info.dataset
        c, h, w = ds.image_shape
        order = "hwc" if "rows" in self.maps else "chw"
        vocab = self.probs.shape[1]
        values = np.zeros(c * h * w, np.float32)
        values[:position] = self.sample_tokens[:position] / max(vocab - 1, 1)
        written = np.zeros(c * h * w, bool)
        written[:position] = True
        if order == "hwc":
            values, written = values.reshape(h, w, c).mean(-1), written.reshape(h, w, c).any(-1)
            pixel = position // c
        else:
            values, written = values.reshape(c, h, w).mean(0), written.reshape(c, h, w).any(0)
            pixel = position % (h * w)
        cursor = divmod(pixel, w)
        pictures = [attention_tile(values, written, weight_picture(wgt, stage, position, (c, h, w), order,
                                                                   self._row_len()), cursor)
                    for wgt in weights]
        self.shown_pictures = pictures
        self.panel.show(tiles(pictures, scale=max(1, 64 // max(h, w))))   # the view scales the rest
        starts = " ".join(f"{wgt[0]:.0%}" for wgt in weights)
        self.panel.title.setText(f"head{'s' if len(heads) > 1 else ''} {' '.join(str(x + 1) for x in heads)}"
                                 f" · on the start: {starts}")

    def _bars(self, position: int) -> None:
        probs = self.probs[position]
        chosen = int(self.sample_tokens[position])
        if self.info.dataset.kind == "text":
            order = np.argsort(-probs)[:10]
            if chosen not in order:
                order = np.append(order[:-1], chosen)
            labels = ["end" if i == 0 else self.info.dataset.alphabet[i] for i in order]
        else:
            order = np.arange(len(probs))
            labels = [str(i) for i in order]
        self.bars.setOpts(x=np.arange(len(order)), height=probs[order],
                          brushes=["#e8730e" if i == chosen else "#5aa0e6" for i in order])
        step = max(1, len(order) // 8)
        ticks = [(k, labels[k]) for k in range(0, len(order), step)]
        if ticks != self.ticks:   # new ticks lay the axis out again: only when they change
            self.ticks = ticks
            self.bars_plot.getAxis("bottom").setTicks([ticks])

    # the heads forming -------------------------------------------------------------------------------
    def add_probe(self, step: int, probe: dict) -> None:
        maps = probe_maps(probe)
        self.probes.append((step, maps, head_shares(maps), np.asarray(probe["input"])))
        self._know_stages(maps)
        live = self.probe_scrub.value() >= self.probe_scrub.maximum()
        self.probe_scrub.blockSignals(True)
        self.probe_scrub.setRange(0, len(self.probes) - 1)
        if live:
            self.probe_scrub.setValue(len(self.probes) - 1)
        self.probe_scrub.blockSignals(False)
        if self.isVisible():
            self._show_probe(self.probe_scrub.value())

    def _show_probe(self, index: int) -> None:
        if not self.probes or self.stage.currentData() is None:
            return
        stage, layer, heads = self.chosen()
        head = heads[0]
        index = min(index, len(self.probes) - 1)
        step, maps = self.probes[index][:2]
        if stage not in maps:
            return
        a = maps[stage][layer, head].astype(np.float32)
        a = a.mean(0) if a.ndim == 3 else a            # the local model: averaged over the rows
        self.probe_panel.show(tiles([matrix_picture(a)], scale=max(1, 64 // a.shape[-1])))
        self.probe_panel.title.setText(f"layer {layer + 1}, head {head + 1} at step {step:,}{self._probe_name()}")
        self.pattern.setText(f"Layer {layer + 1}, head {head + 1} at step {step:,}: {pattern_name(a)}")
        steps = [probe[0] for probe in self.probes]
        for name, curve in self.share_curves.items():
            curve.setData(steps, [probe[2][(stage, layer, head)][name] for probe in self.probes])
        self.step_line.setValue(step)
        self.shown_probe = (step, a)


    def _probe_name(self) -> str:
        """The text probe itself (its rows are the positions writing it)."""
        if self.info is None or self.info.dataset.kind != "text" or not self.probes:
            return ""
        tokens = self.probes[-1][3]
        return f' on "{"".join(self.info.dataset.alphabet[t] for t in tokens if t > 0)}"'


class EmbeddingsPage(QWidget):
    """The token embeddings on their first two principal components, labelled; a click lists the
    nearest tokens (cosine)."""

    def __init__(self, pg, parent=None):
        super().__init__(parent)
        self.pg = pg
        self.vectors = None
        self.labels: list[str] = []
        self.plot = plot_widget(pg, title="token embeddings (PCA)")
        self.plot.getAxis("bottom").setLabel("first principal component")
        self.plot.getAxis("left").setLabel("second principal component")
        self.scatter = pg.ScatterPlotItem(size=9, pen=None)
        self.scatter.sigClicked.connect(lambda _, points, *__: self.pick(int(points[0].data())))
        self.plot.addItem(self.scatter)
        self.names: list = []
        self.neighbours = QLabel("Click a token to list its nearest neighbours.")
        self.neighbours.setWordWrap(True)
        col = QVBoxLayout(self)
        col.addWidget(self.plot, 1)
        col.addWidget(self.neighbours)
        col.addWidget(help_area([TEXT["embeddings"]], 70))

    def on_run(self, info) -> None:
        self.info = info
        self.vectors = None
        self.scatter.clear()
        for item in self.names:
            self.plot.removeItem(item)
        self.names = []
        ds = info.dataset
        self.labels = (["end" if i == 0 else ch for i, ch in enumerate(ds.alphabet)] if ds.kind == "text" else [])
        self.neighbours.setText("Click a token to list its nearest neighbours.")

    def colour(self, i: int, vocab: int) -> str:
        if self.info.dataset.kind != "text":
            grey = int(40 + 180 * i / max(vocab - 1, 1))
            return f"#{grey:02x}{grey:02x}{grey:02x}"
        ch = self.labels[i]
        return "#e8730e" if ch in VOWELS else "#1f77b4" if ch.isalpha() and len(ch) == 1 else "#888888"

    def show_embeddings(self, vectors: np.ndarray, points: np.ndarray, step: int) -> None:
        self.vectors, self.points = vectors, points
        vocab = len(vectors)
        if not self.labels or len(self.labels) != vocab:
            self.labels = [str(i) for i in range(vocab)]
        brushes = [self.pg.mkBrush(self.colour(i, vocab)) for i in range(vocab)]
        self.scatter.setData(pos=points, brush=brushes, data=list(range(vocab)))
        if len(self.names) != vocab:
            for item in self.names:
                self.plot.removeItem(item)
            self.names = []
            for i in range(vocab):
                item = self.pg.TextItem(self.labels[i], color=self.colour(i, vocab), anchor=(0.5, 1.2))
                self.plot.addItem(item)
                self.names.append(item)
        for item, (x, y) in zip(self.names, points):
            item.setPos(float(x), float(y))
        text = self.info.dataset.kind == "text"
        self.plot.setTitle(f"token embeddings at step {step:,} (PCA)"
                           + (": vowels orange, consonants blue" if text else ": grey levels, dark to light"))

    def pick(self, index: int) -> list[tuple[int, float]]:
        if self.vectors is None:
            return []
        near = nearest_tokens(self.vectors, index, k=5)
        listed = ", ".join(f"{self.labels[j]} ({cos:.2f})" for j, cos in near)
        self.neighbours.setText(f"Nearest to <b>{html.escape(self.labels[index])}</b> (cosine similarity): "
                                f"{html.escape(listed)}")
        return near

