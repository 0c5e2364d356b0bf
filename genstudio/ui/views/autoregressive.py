"""The autoregressive view: the running model writing pixels or characters one at a time.

Pages: Write (press Generate: the explorer writes a batch of samples token by token and sends each
position's next-token distribution as it goes; the view keeps them and plays them back at the chosen
speed, the bars showing the distribution the model chose each token from, grey where top-k or top-p
dropped a token; temperature, top-k, top-p and, for text, a prompt), Complete (images: the model
fills a region of a held-out image, the rest kept), and Loss (bits per dimension or nats per
character, training and held-out, with a text corpus's uniform and bigram baselines). Every picture
is an explorer answer.
"""
from __future__ import annotations

import html
import time

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...engine.render import image_grid
from ..steady_label import steady_label
from ..theme import add_legend, plot_widget, text_area_css
from .attention import AttentionPage, EmbeddingsPage
from .base import ExplorerView, ImagePanel, help_area, set_help

IMAGES = 16           # samples written at once (images)
LINES = 16            # and lines of text
COMPLETIONS = 8
TOP_CANDIDATES = 10   # text: the bars show this many likeliest characters
LOSS_EVERY_S = 2.0
EMBEDDINGS_EVERY_S = 2.0
SPEEDS = {"10 tokens/s": (100, 1), "60 tokens/s": (16, 1), "250 tokens/s": (16, 4), "all at once": (16, 10 ** 6)}
UNWRITTEN = (40, 60, 110)     # pixels not written yet
CHOSEN, OTHER, DROPPED = "#e8730e", "#5aa0e6", "#cccccc"  # drawn, kept, dropped by top-k / top-p

TEXT = {
    "next": "The bars are the model's next-token distribution: given everything written so far, how likely "
            "each possible next {unit} is. The orange bar is the one drawn (at random, in proportion to its bar).",
    "temperature": "Temperature divides the model's scores before they become probabilities: below 1 the likely "
                   "tokens get likelier (safer, duller samples), above 1 the bars flatten (wilder samples). 0 always "
                   "takes the tallest bar (greedy): the same sample every time. Top-k keeps only the k tallest bars; "
                   "top-p keeps the likeliest tokens until their probabilities add up to p. The grey bars are the "
                   "tokens they drop.",
    "guidance": "Guidance: the model scores every next token twice, once told the class and once not (it learnt "
                "both: some training images came without their class), and goes guidance times as far from the "
                "second scores towards the first. 0 ignores the class, 1 is the plain conditional model, above 1 "
                "the class shows more plainly and the samples of one class grow alike.",
    "teacher": "Training is teacher forcing: the model sees real {items} and is scored on each next token, all "
               "positions at once. Sampling is different: it feeds the model its own choices, one at a time, so "
               "an early mistake stays in the context.",
    "complete": "Drag or resize the box: the model rewrites the pixels inside it, reading the kept pixels above "
                "and before them in raster order (it cannot see what comes after). Several tries, side by side.",
    "loss": "The loss per token, on training examples and on held-out ones, in {units}. Held-out above training "
            "means the model starts to memorise.",
    "baselines": "Reference lines for this text: a uniform guess over the {v} characters, and a bigram model (the "
                 "next character from the previous one only, counted on the training lines).",
}


def partial_grid(tokens: np.ndarray, upto: int, shape: tuple, vocab: int, order: str, cols: int) -> np.ndarray:
    """RGB grid of images written up to position `upto` (inclusive); unwritten pixels in UNWRITTEN."""
    c, h, w = shape
    n, length = len(tokens), c * h * w
    values = np.zeros((n, length), np.float32)
    written = np.zeros((n, length), np.float32)
    k = min(upto + 1, tokens.shape[1])
    values[:, :k] = tokens[:, :k] / max(vocab - 1, 1)
    written[:, :k] = 1.0

    def planes(x):
        return x.reshape(n, h, w, c).transpose(0, 3, 1, 2) if order == "hwc" else x.reshape(n, c, h, w)

    grid = image_grid(planes(values), scale=1, pad=1, cols=cols)
    mask = image_grid(planes(written), scale=1, pad=1, cols=cols)[..., 0]
    grid[mask == 0] = UNWRITTEN
    return grid


class ARView(ExplorerView):
    tab_title = "writing token by token"

    def __init__(self, family: str, parent=None):
        super().__init__(family, parent)
        self.kind = "image"
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_tick)
        self.seed = 0
        self.guidable = False   # a conditional run trained with label dropout: the Write page has guidance
        self._reset_state()

    def _reset_state(self):
        self.tokens = None        # (count, received) chosen tokens of the kept batch
        self.probs = None         # (count, received, vocab) their distributions
        self.raw = None           # the same before top-k / top-p (None when both are off)
        self.length = 0
        self.final = None         # the last chunk's values (decoded samples, marks)
        self.position = -1        # the last position shown as written
        self.focus = 0
        self.ticks = None
        self.completion = None
        self.loss_points: dict[str, list[tuple[int, float]]] = {}
        self.loss_asked = 0.0
        self.embeddings_asked = 0.0
        self.attention_asked = None   # (tokens, probs) of the sample whose maps were asked for
        self.generated = False
        self.shown_step.clear()

    # building ----------------------------------------------------------------------------------------
    def _build(self):
        import pyqtgraph as pg

        self.built = True
        self.pg = pg
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Write a new batch with the model as it is now (a new seed)")
        self.generate_button.clicked.connect(self.generate)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 3.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("0: greedy (always the likeliest token)")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 1000)
        self.top_k.setToolTip("Sample from the k likeliest tokens only (0: all)")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(1.0)
        self.top_p.setToolTip("Sample from the likeliest tokens that together reach probability p only (1: all)")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0.0, 5.0)
        self.guidance.setSingleStep(0.25)
        self.guidance.setValue(1.0)
        self.guidance.setToolTip("Classifier-free guidance: each next token's scores are those without the class "
                                 "plus this many times what the class adds (0: no class, 1: the class)")
        self.guidance_label = QLabel("guidance")
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("a prompt to continue (optional)")
        self.prompt.returnPressed.connect(self.generate)
        self.prompt_label = QLabel("prompt")
        for widget in (self.temperature, self.top_k, self.top_p, self.guidance):
            widget.valueChanged.connect(lambda _: self.generate())  # live: a new batch with the new setting
        controls = QHBoxLayout()
        for widget in (self.generate_button, QLabel("temperature"), self.temperature, QLabel("top-k"), self.top_k,
                       QLabel("top-p"), self.top_p, self.guidance_label, self.guidance, self.prompt_label, self.prompt):
            controls.addWidget(widget)
        controls.addStretch(1)
        self.position_label = steady_label("token 10000 of 10000", "")
        controls.addWidget(self.position_label)
        self.play_button = QPushButton("Pause")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentIndex(1)
        self.speed.currentTextChanged.connect(lambda text: self.play_timer.setInterval(SPEEDS[text][0]))
        self.scrub = QSlider(Qt.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.valueChanged.connect(self._scrubbed)
        self.scrub.sliderPressed.connect(lambda: self.play_button.setChecked(False))
        scrub_row = QHBoxLayout()
        scrub_row.addWidget(self.play_button)
        scrub_row.addWidget(self.speed)
        scrub_row.addWidget(self.scrub, 1)
        # the next-token bars
        self.bars_plot = plot_widget(pg, title="Next-token distribution")
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.setYRange(0, 1)
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.8, brushes=[OTHER])
        self.bars_plot.addItem(self.bars)
        self.bars_plot.getAxis("left").setLabel("probability")
        # images: the focus sample large, every sample small
        self.focus_panel = ImagePanel(pg, "sample 1")
        self.cursor = pg.PlotCurveItem(pen=pg.mkPen(CHOSEN, width=2))
        self.focus_panel.box.addItem(self.cursor)
        self.grid_panel = ImagePanel(pg, "the batch")
        images = QWidget()
        row = QHBoxLayout(images)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.focus_panel.widget, 3)
        row.addWidget(self.grid_panel.widget, 2)
        # text: the lines being written
        self.lines = QLabel("")
        self.lines.setTextFormat(Qt.RichText)
        self.lines.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.lines.setStyleSheet("font-family: monospace; font-size: 12pt; " + text_area_css() + " padding: 6px;")
        self.novelty = QLabel("")
        text = QWidget()
        col = QVBoxLayout(text)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.lines, 1)
        col.addWidget(self.novelty)
        self.write_kinds = QStackedWidget()
        self.write_kinds.addWidget(images)
        self.write_kinds.addWidget(text)
        self.write_help = help_area([], 150)
        side = QVBoxLayout()
        side.addWidget(self.bars_plot, 1)
        side.addWidget(self.write_help)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side.setContentsMargins(0, 0, 0, 0)
        side_widget.setMaximumWidth(420)
        picture = QVBoxLayout()
        picture.addWidget(self.write_kinds, 1)
        picture.addLayout(scrub_row)
        body = QHBoxLayout()
        body.addLayout(picture, 3)
        body.addWidget(side_widget, 2)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addLayout(controls)
        col.addLayout(body, 1)
        self.pages.addTab(page, "Write")

        # Complete (images) ----------------------------------------------------------------------
        self.example = QSpinBox()
        self.example.setToolTip("Which held-out image to complete")
        self.example.valueChanged.connect(self._show_example)
        self.complete_button = QPushButton("Complete")
        self.complete_button.clicked.connect(self.complete)
        self.complete_status = QLabel("")
        row_controls = QHBoxLayout()
        for widget in (QLabel("held-out image"), self.example, self.complete_button, self.complete_status):
            row_controls.addWidget(widget)
        row_controls.addStretch(1)
        self.mask_panel = ImagePanel(pg, "the box: rewritten")
        self.mask_roi = pg.RectROI([0, 0], [1, 1], pen=pg.mkPen(CHOSEN, width=2), snapSize=1.0, translateSnap=True,
                                   scaleSnap=True)
        self.mask_panel.box.addItem(self.mask_roi)
        self.mask_roi.sigRegionChangeFinished.connect(lambda *_: self.complete())
        self.completions_panel = ImagePanel(pg, f"original (left), {COMPLETIONS} completions")
        row = QHBoxLayout()
        row.addWidget(self.mask_panel.widget, 1)
        row.addWidget(self.completions_panel.widget, 2)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addLayout(row_controls)
        col.addLayout(row, 1)
        col.addWidget(help_area([TEXT["complete"]], 60))
        self.complete_page = page
        self.pages.addTab(page, "Complete an image")

        # Loss ----------------------------------------------------------------------------------
        self.loss_plot = plot_widget(pg, title="Loss per token")
        add_legend(pg, self.loss_plot, offset=(-5, 5))
        self.loss_plot.getAxis("bottom").setLabel("step")
        self.loss_curves = {name: self.loss_plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=4,
                                                      name=label)
                            for name, colour, label in (("train", "#1f77b4", "training"),
                                                        ("held_out", "#d62728", "held-out"))}
        self.baseline_lines = []
        self.loss_help = help_area([], 90)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addWidget(self.loss_plot, 1)
        col.addWidget(self.loss_help)
        self.pages.addTab(page, "Loss")
        self.attention_page = AttentionPage(pg, self._ask_attention)
        self.attention_page.scrub.valueChanged.connect(lambda _: self._moved())
        self.pages.addTab(self.attention_page, "What it looks at")
        self.embeddings_page = EmbeddingsPage(pg)
        self.pages.addTab(self.embeddings_page, "Embeddings")
        self.pages.addTab(self.quality, "Quality")
        self.pages.currentChanged.connect(self._page_changed)

    def _page_changed(self, index: int) -> None:
        page = self.pages.widget(index)
        if page is self.complete_page:
            self.complete()
        elif page is self.attention_page:
            self._ask_attention(self.attention_page.sample.value() - 1)
        elif page is self.embeddings_page:
            self._ask_embeddings()

    # the contract ----------------------------------------------------------------------------------
    def clear(self) -> None:
        super().clear()
        self.play_timer.stop()

    def on_run(self, info, explorer) -> None:
        super().on_run(info, explorer)
        ds = info.dataset
        self.kind = ds.kind
        text = ds.kind == "text"
        self.write_kinds.setCurrentIndex(1 if text else 0)
        for widget in (self.prompt, self.prompt_label):
            widget.setVisible(text)
        self.pages.setTabVisible(1, ds.kind == "image")
        cfg = explorer.experiment.family
        for spin, value in ((self.temperature, cfg.temperature), (self.top_k, cfg.top_k), (self.top_p, cfg.top_p),
                            (self.guidance, cfg.guidance)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.guidable = bool(self.classes) and cfg.label_dropout > 0   # it also learnt to write with no class
        for widget in (self.guidance, self.guidance_label):
            widget.setVisible(self.guidable)
        unit, items, units = (("character", "lines", "nats per character") if text else
                              ("pixel value", "images", "bits per dimension"))
        set_help(self.write_help, [TEXT["next"].format(unit=unit), TEXT["temperature"]] +
                 ([TEXT["guidance"]] if self.guidable else []) + [TEXT["teacher"].format(items=items)])
        set_help(self.loss_help, [TEXT["loss"].format(units=units)] +
                       ([TEXT["baselines"].format(v=len(ds.alphabet))] if text else []))
        self.loss_plot.getAxis("left").setLabel(units)
        for curve in self.loss_curves.values():
            curve.setData([], [])
        for line in self.baseline_lines:
            self.loss_plot.removeItem(line)
        self.baseline_lines = []
        self.bars.setOpts(x=[0], height=[0], brushes=[OTHER])
        self.lines.setText("")
        self.novelty.setText("")
        self.position_label.setText("")
        for panel in (self.focus_panel, self.grid_panel, self.mask_panel, self.completions_panel):
            panel.clear()
        self.cursor.setData([], [])
        if ds.kind == "image":
            _, h, w = ds.image_shape
            self.example.blockSignals(True)
            self.example.setRange(0, len(ds.held_out) - 1)
            self.example.setValue(0)
            self.example.blockSignals(False)
            self.mask_roi.blockSignals(True)
            self.mask_roi.maxBounds = QRectF(0, 0, w, h)
            self.mask_roi.setPos((0, h // 2), finish=False)
            self.mask_roi.setSize((w, h - h // 2), finish=False)
            self.mask_roi.blockSignals(False)
            self._show_example()
        self.play_timer.setInterval(SPEEDS[self.speed.currentText()][0])
        self.attention_page.on_run(info, cfg)
        self.embeddings_page.on_run(info)
        self.message.setText("Waiting for the model's weights…")

    def on_snapshot(self, snap) -> None:
        if self.built and snap.probe is not None:
            self.attention_page.add_probe(snap.step, snap.probe)

    def on_weights(self, step) -> None:
        if not self.built or self.info is None:
            return
        if not self.generated and step is not None:  # the first weights: every page gets its picture
            self.generated = True
            self.generate()
            if self.kind == "text":
                self.submit("baselines", "TextBaselines")
            if self.kind == "image":
                self.complete()
        if time.perf_counter() - self.loss_asked >= LOSS_EVERY_S and step is not None:
            self.loss_asked = time.perf_counter()
            self.submit("loss", "TokenLoss", count=256)
        if (self.pages.currentWidget() is self.embeddings_page and step is not None
                and time.perf_counter() - self.embeddings_asked >= EMBEDDINGS_EVERY_S):
            self._ask_embeddings()

    def _ask_embeddings(self) -> None:
        self.embeddings_asked = time.perf_counter()
        self.submit("embeddings", "Embeddings")

    def _ask_attention(self, index: int) -> None:
        """The maps of sample `index` of the written batch (once it is written)."""
        if self.final is None or self.tokens is None:
            return
        index = max(0, min(index, len(self.tokens) - 1))
        self.attention_asked = (self.tokens[index], self.probs[index])
        labels = self.final.get("labels")
        self.submit("attention", "Attention", tokens=self.tokens[index],
                    label=0 if labels is None else int(labels[index]))

    # requests ----------------------------------------------------------------------------------
    def generate(self) -> None:
        """A new batch written with the current temperature, top-k, top-p and prompt (a new seed)."""
        if self.explorer is None or not self.built:
            return
        self.seed += 1
        self.tokens, self.probs, self.raw, self.final, self.position = None, None, None, None, -1
        self.play_button.setChecked(True)
        self.submit("generate", "Generate", temperature=self.temperature.value(), top_k=self.top_k.value(),
                    top_p=self.top_p.value(), count=LINES if self.kind == "text" else IMAGES, seed=self.seed,
                    prompt=self.prompt.text() if self.kind == "text" else "",
                    label=self.asked_class() if self.classes else -1, guidance=self._guidance())

    def _guidance(self) -> float | None:
        return self.guidance.value() if self.guidable else None

    def on_knob(self, name: str, value) -> None:
        """The run's guidance changed in the settings: the Write page follows (and writes again)."""
        if name == "guidance" and self.built:
            self.guidance.setValue(float(value))

    each_class = "each class in turn"

    def on_class(self) -> None:
        self.generate()

    def mask(self) -> np.ndarray:
        """(H, W): True inside the box (the pixels the model rewrites)."""
        _, h, w = self.info.dataset.image_shape
        (x, y), (sw, sh) = self.mask_roi.pos(), self.mask_roi.size()
        mask = np.zeros((h, w), bool)
        mask[max(0, round(y)):max(0, round(y + sh)), max(0, round(x)):max(0, round(x + sw))] = True
        return mask

    def complete(self) -> None:
        if self.explorer is None or not self.built or self.kind != "image":
            return
        self.complete_status.setText("writing…")
        self.submit("complete", "Generate", temperature=self.temperature.value(), top_k=self.top_k.value(),
                    top_p=self.top_p.value(), count=COMPLETIONS, seed=self.seed + 1000, complete=self.example.value(),
                    mask=self.mask(), guidance=self._guidance())

    # answers -------------------------------------------------------------------------------------
    def _answer_generate(self, values, step):
        raw = values.get("raw")  # every chunk of an answer has it or none does
        if values["first"] == 0:
            self.tokens, self.probs, self.raw = values["tokens"], values["probs"], raw
            self.length, self.order = values["length"], values["order"]
        else:
            self.tokens = np.concatenate([self.tokens, values["tokens"]], 1)
            self.probs = np.concatenate([self.probs, values["probs"]], 1)
            if raw is not None:
                self.raw = np.concatenate([self.raw, raw], 1)
        if "seconds" in values:
            self.final = values
            self.attention_page.set_batch(len(self.tokens))
            if self.pages.currentWidget() is self.attention_page:
                self._ask_attention(self.attention_page.sample.value() - 1)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, self.tokens.shape[1] - 1)
        self.scrub.blockSignals(False)
        if self.position < 0:
            self.show_position(0)

    def _answer_attention(self, values, step):
        tokens, probs = self.attention_asked
        self.attention_page.show_maps(values, tokens, probs)

    def _answer_embeddings(self, values, step):
        self.embeddings_page.show_embeddings(values["vectors"], values["map"], step)

    def _answer_complete(self, values, step):
        if "seconds" not in values:
            return
        self.completion = values
        images = np.concatenate([values["original"][None], values["decoded"]])
        self.completions_panel.show(image_grid(images, scale=1, pad=1, cols=len(images)))
        self.complete_status.setText(f"{len(values['decoded'])} completions in {values['seconds']:.2f} s "
                                     f"(the model at step {step:,})")

    def _answer_loss(self, values, step):
        scale = 1.0 if self.kind == "text" else 1 / np.log(2)  # nats per token -> bits per dimension
        for name, curve in self.loss_curves.items():
            points = self.loss_points.setdefault(name, [])
            points.append((step, values[name] * scale))
            xs, ys = zip(*points)
            curve.setData(xs, ys)

    def _answer_baselines(self, values, step):
        for line in self.baseline_lines:
            self.loss_plot.removeItem(line)
        self.baseline_lines = []
        for name, colour in (("uniform", "#888888"), ("bigram", "#2ca02c")):
            line = self.pg.InfiniteLine(values[name], angle=0, pen=self.pg.mkPen(colour, width=1.5, style=Qt.DashLine),
                                        label=f"{name} {values[name]:.3f}",
                                        labelOpts={"position": 0.6, "color": colour})
            self.loss_plot.addItem(line)
            self.baseline_lines.append(line)

    # showing a position ----------------------------------------------------------------------------
    def show_position(self, position: int) -> None:
        """Everything written up to `position` (inclusive), and the distribution the token there came from."""
        if self.tokens is None:
            return
        position = max(0, min(position, self.tokens.shape[1] - 1))
        self.position = position
        if self.scrub.value() != position:
            self.scrub.blockSignals(True)
            self.scrub.setValue(position)
            self.scrub.blockSignals(False)
        self.position_label.setText(f"token {position + 1} of {self.length}")
        if self.kind == "text":
            self._show_text(position)
        else:
            self._show_images(position)

    def _bars(self, sample: int, position: int, labels: list[str] | None = None) -> None:
        """The distribution `sample`'s token at `position` came from: before top-k / top-p when they are
        on, the tokens they dropped in grey."""
        probs, chosen = self.probs[sample, position], int(self.tokens[sample, position])
        heights = probs if self.raw is None else self.raw[sample, position]
        order = np.arange(len(heights)) if labels is None else np.argsort(-heights)[:TOP_CANDIDATES]
        if labels is not None and chosen not in order:
            order = np.append(order[:-1], chosen)
        brushes = [CHOSEN if i == chosen else OTHER if probs[i] > 0 else DROPPED for i in order]
        self.bars.setOpts(x=np.arange(len(order)), height=heights[order], brushes=brushes)
        if labels is None:  # grey levels: a label every few bars
            ticks = [(int(i), str(i)) for i in order[::max(1, len(order) // 5)]]
        else:
            ticks = list(enumerate(labels[i] for i in order))
        if ticks != self.ticks:  # new ticks redraw the axis: only when they change
            self.ticks = ticks
            self.bars_plot.getAxis("bottom").setTicks([ticks])
        self.shown_bars = (order, heights[order])

    def _show_images(self, position: int) -> None:
        ds = self.info.dataset
        shape, vocab = ds.image_shape, self.probs.shape[2]
        order = self.order
        grid = partial_grid(self.tokens, position, shape, vocab, order, cols=4)
        focus = partial_grid(self.tokens[self.focus:self.focus + 1], position, shape, vocab, order, cols=1)
        self.focus_panel.show(focus)
        self.grid_panel.show(grid)
        c, h, w = shape
        pixel = position // c if order == "hwc" else position % (h * w)
        y, x = divmod(pixel, w)
        x0, y0 = x + 1, y + 1  # the grid's 1-pixel margin
        self.cursor.setData([x0, x0 + 1, x0 + 1, x0, x0], [y0, y0, y0 + 1, y0 + 1, y0])
        self._bars(self.focus, position)
        self._title(f"next pixel: {vocab} grey levels" if c == 1 else f"next colour value: {vocab} levels")

    def _show_text(self, position: int) -> None:
        """The lines up to `position`; the bold one (the first still being written) has its bars shown."""
        alphabet = self.info.dataset.alphabet
        ends = [int(np.flatnonzero(line == 0)[0]) if (line == 0).any() else len(line) for line in self.tokens]
        last = self.length - 1  # a line with no end token ends at the last position
        unfinished = [i for i, end in enumerate(ends) if end > position and position < last]
        focus = unfinished[0] if unfinished else int(np.argmax(ends))
        marks = self.final["in_training"] if self.final is not None else None
        rows, new, finished = [], 0, 0
        for i, (line, end) in enumerate(zip(self.tokens, ends)):
            cell = html.escape("".join(alphabet[t] for t in line[:min(position + 1, end)]))
            if i == focus:
                cell = f"<b>{cell}</b>"
            if position < min(end, last):
                cell += "<span style='color:#e8730e'>▌</span>"
            elif marks is not None:
                finished += 1
                new += not marks[i]
                cell += (" <span style='color:#999'>(in the training set)</span>" if marks[i] else
                         " <span style='color:#2ca02c'>(new)</span>")
            rows.append(cell)
        self.lines.setText("<br>".join(rows))
        self.novelty.setText(f"{new} of {finished} finished lines are new "
                             "(not in the training set)" if finished else "")
        self.focus = focus
        at = min(position, ends[focus])
        labels = ["end" if c == "." else c for c in alphabet]
        self._bars(focus, at, labels)
        self._title(f"next after \"{''.join(alphabet[t] for t in self.tokens[focus, :at])}\"")
    def _title(self, text: str) -> None:
        if text != self.bars_plot.getPlotItem().titleLabel.text:  # a new title re-lays out the plot: only on change
            self.bars_plot.setTitle(text)

    def _scrubbed(self, value: int):
        self._moved()
        self.play_button.setChecked(False)
        self.show_position(value)

    def _play_toggled(self, on: bool):
        self.play_button.setText("Pause" if on else "Play")
        if on:
            if self.tokens is not None and self.position >= self.length - 1:
                self.show_position(0)
            self.play_timer.start()
        else:
            self.play_timer.stop()

    def _play_tick(self):
        if self.tokens is None or not self.scrub.isVisible():   # the Write page is not on screen: it waits
            return
        _, per_tick = SPEEDS[self.speed.currentText()]
        received = self.tokens.shape[1]
        if self.position >= self.length - 1:
            self.play_button.setChecked(False)
            return
        if self.position < received - 1:  # otherwise wait for the explorer's next chunk
            self.show_position(min(self.position + per_tick, received - 1))

    def _show_example(self, *_):
        if self.info is None or self.kind != "image":
            return
        ds = self.info.dataset
        image = ds.held_out[self.example.value() % len(ds.held_out)]
        grid = image_grid(image[None], scale=1, pad=0, cols=1)
        self.mask_panel.show(grid)
        self.complete()
