"""The experiment panel: family, data, device, seed, presets, and a form generated from the family's
config dataclass (ranges and tooltips from the knobs' metadata)."""
from __future__ import annotations

import dataclasses
import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..config import (
    COLORS,
    DEFAULT_DATA,
    FAMILIES,
    FAMILY_CONFIGS,
    IMAGE_SIZES,
    LESSON_PRESETS,
    PRESETS,
    ConfigError,
    Experiment,
    default_experiment,
    lesson_experiment,
)
from ..data import DATASETS, REMOTE_DATASETS, TEXT_SETS, looks_like_path
from .theme import quiet_css

FAMILY_LABELS = {"gan": "GAN", "vae": "VAE", "diffusion": "Diffusion", "ar": "Autoregressive"}
LIVE_KNOBS = ("lr", "beta", "guidance")  # applied between steps without a reset


REMOTE_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def data_sets_for(model: str) -> list[str]:
    return [d for d in DATASETS if model == "ar" or d not in TEXT_SETS] + list(REMOTE_DATASETS)


def takes_image_options(data: str) -> bool:
    """Downloaded sets and imported images can be resized and converted; built-ins, text and CSV cannot."""
    return data in REMOTE_DATASETS or (looks_like_path(data) and not data.lower().endswith((".txt", ".csv")))


def image_option_combos(own_size_label: str = "own size") -> tuple[QComboBox, QComboBox]:
    """The size (0 = the images' own) and colour choices for imported or downloaded images."""
    size = QComboBox()
    for value in IMAGE_SIZES:
        size.addItem(own_size_label if value == 0 else f"{value}×{value}", value)
    color = QComboBox()
    for value in COLORS:
        color.addItem(value, value)
    return size, color


def data_label(data: str) -> str:
    if data in REMOTE_LABELS:
        from ..data.download import is_cached
        return REMOTE_LABELS[data] if is_cached(data) else f"{REMOTE_LABELS[data]} (downloads once)"
    if looks_like_path(data):
        return os.path.basename(os.path.normpath(data))
    return data


def presets_for(model: str) -> list[tuple[str, str]]:
    """(label, data set) of the known-good settings for a family: its default data first."""
    names = [DEFAULT_DATA[model]] + [d for (m, d) in PRESETS if m == model and d != DEFAULT_DATA[model]]
    return [(f"{FAMILY_LABELS[model]} on {d}", d) for d in names]


def _knob_widget(f: dataclasses.Field, value):
    meta = f.metadata
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if meta.get("choices"):
        w = QComboBox()
        w.addItems([str(c) for c in meta["choices"]])
        w.setCurrentText(str(value))
    elif kind == "bool":
        w = QCheckBox()
        w.setChecked(bool(value))
    elif kind == "int":
        w = QSpinBox()
        w.setRange(int(meta.get("low") or 0), int(min(meta.get("high") or 10**9, 2**31 - 1)))
        w.setValue(int(value))
    else:
        w = QDoubleSpinBox()
        w.setDecimals(6 if (meta.get("high") or 1) <= 1 else 4)
        w.setRange(float(meta.get("low") or 0.0), float(meta.get("high") or 1e9))
        w.setSingleStep(value / 10 if 0 < value < 0.1 else 0.1)
        w.setValue(float(value))
    w.setToolTip(meta.get("help", ""))
    return w


def _read(w):
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, QCheckBox):
        return w.isChecked()
    return w.value()


def _write(w, value):
    w.blockSignals(True)  # writing state into a widget must not echo back as an edit
    if isinstance(w, QComboBox):
        w.setCurrentText(str(value))
    elif isinstance(w, QCheckBox):
        w.setChecked(bool(value))
    else:
        w.setValue(value)
    w.blockSignals(False)


class ExperimentPanel(QWidget):
    changed = Signal()              # anything that needs a reset to take effect
    live_changed = Signal(str, object)  # a knob that applies while training (name, value)
    presets_changed = Signal()      # the user saved a preset (the window persists them)
    apply_requested = Signal()      # "Apply: fresh model" was pressed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.family = QComboBox()
        for key in FAMILIES:
            self.family.addItem(FAMILY_LABELS[key], key)
        self.data = QComboBox()
        self.data.setToolTip("Built-in sets, MNIST / Fashion-MNIST (downloaded once), or your own: "
                             "File → Open data…, or drop a file on the window")
        self.user_data: list[str] = []  # files and folders the user imported this session
        self.image_size, self.image_color = image_option_combos()
        self.image_size.setToolTip("Resize the images to this size (smaller trains much faster on a CPU)")
        self.image_color.setToolTip("Train on grey or colour images (auto: as the files are)")
        image_row = QHBoxLayout()
        image_row.addWidget(self.image_size, 1)
        image_row.addWidget(self.image_color, 1)
        self.image_row_label = QLabel("Images")
        self.device = QComboBox()
        self.device.addItem("auto", "auto")
        self.device.setToolTip("auto picks CUDA, then MPS, then the CPU")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.threads = QSpinBox()
        self.threads.setRange(0, os.cpu_count() or 1)
        self.threads.setSpecialValueText("auto (cores - 1)")
        self.threads.setToolTip("CPU threads for training. auto leaves a core to the window, which keeps "
                                "both fast when the machine is busy")
        self.preset = QComboBox()
        self.preset.setToolTip("Known-good settings for this family, one click each, and the ones you saved")
        for combo in (self.data, self.preset):   # long labels (a lesson preset, a file's path) do not widen the form
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(18)
        self.save_preset = QPushButton("Save…")
        self.save_preset.setToolTip("Keep the current settings as a preset of your own")
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(self.save_preset)
        self.user_presets: list[tuple[str, Experiment]] = []
        top = QFormLayout()
        top.addRow("Family", self.family)
        top.addRow("Data", self.data)
        top.addRow(self.image_row_label, image_row)
        self.image_widgets = (self.image_row_label, self.image_size, self.image_color)
        top.addRow("Preset", preset_row)
        top.addRow("Device", self.device)
        top.addRow("Seed", self.seed)
        top.addRow("CPU threads", self.threads)
        self.knob_box = QGroupBox("Hyperparameters")
        self.knob_form = QFormLayout(self.knob_box)
        self.hint = QLabel("The learning rate (a VAE's beta, guidance) change while training; "
                           "other changes start a fresh model when you apply them.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(quiet_css())
        self.apply_button = QPushButton("Apply: fresh model")
        self.apply_button.setToolTip("The settings above differ from the model that is training. Apply them: "
                                     "a fresh model starts (the one training now is discarded)")
        self.apply_button.setStyleSheet("font-weight: bold;")
        self.apply_button.hide()
        self.apply_button.clicked.connect(self.apply_requested)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.knob_box)
        layout.addWidget(self.hint)
        layout.addWidget(self.apply_button)
        layout.addStretch(1)
        self.knobs: dict[str, QWidget] = {}
        self.family.currentIndexChanged.connect(self._family_changed)
        self.data.currentIndexChanged.connect(self._data_changed)
        self.preset.activated.connect(self._preset_chosen)
        self.save_preset.clicked.connect(self._ask_preset_name)
        self.device.currentIndexChanged.connect(self.changed)
        self.image_size.currentIndexChanged.connect(self.changed)
        self.image_color.currentIndexChanged.connect(self.changed)
        self.seed.valueChanged.connect(self.changed)
        self.threads.valueChanged.connect(self.changed)
        self.set_experiment(default_experiment("gan"))

    # building the form ------------------------------------------------------------------------
    def _build_knobs(self, family_cfg) -> None:
        while self.knob_form.rowCount():
            self.knob_form.removeRow(0)
        self.knobs = {}
        for f in dataclasses.fields(family_cfg):
            w = _knob_widget(f, getattr(family_cfg, f.name))
            label = QLabel(f.name.replace("_", " "))
            label.setToolTip(f.metadata.get("help", ""))
            self.knob_form.addRow(label, w)
            self.knobs[f.name] = w
            signal = (w.currentTextChanged if isinstance(w, QComboBox) else
                      w.toggled if isinstance(w, QCheckBox) else w.valueChanged)
            if f.name in LIVE_KNOBS:
                signal.connect(lambda value, name=f.name: self.live_changed.emit(name, value))
            else:
                signal.connect(lambda *_, name=f.name: self._knob_changed(name))

    def _knob_changed(self, name: str) -> None:
        """The settings that depend on this one follow it (a new objective brings its sampler)."""
        values = {n: _read(w) for n, w in self.knobs.items()}
        for n, value in FAMILY_CONFIGS[self.family.currentData()].follow(values, {name}).items():
            if value != values[n]:
                _write(self.knobs[n], value)
        self.changed.emit()

    def set_devices(self, devices: list[str]) -> None:
        current = self.device.currentData()
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("auto", "auto")
        for d in devices:
            self.device.addItem(d.upper() if d != "cpu" else "CPU", d)
        index = self.device.findData(current)
        self.device.setCurrentIndex(max(index, 0))
        self.device.blockSignals(False)

    def set_experiment(self, exp: Experiment) -> None:
        signalling = (self.family, self.data, self.seed, self.threads, self.device, self.preset, self.image_size,
                      self.image_color)
        for w in signalling:
            w.blockSignals(True)
        try:   # (whatever happens, the panel's signals are on again afterwards)
            self.family.setCurrentIndex(self.family.findData(exp.model))
            if looks_like_path(exp.data) and exp.data not in self.user_data:
                self.user_data.append(exp.data)
            self.data.clear()
            for d in data_sets_for(exp.model):
                self.data.addItem(data_label(d), d)
            if self.user_data:
                self.data.insertSeparator(self.data.count())
            for d in self.user_data:  # the user's files, named by their file name (the path in the tooltip)
                self.data.addItem(data_label(d), d)
                self.data.setItemData(self.data.count() - 1, d, Qt.ToolTipRole)
            self.data.setCurrentIndex(self.data.findData(exp.data))
            self.image_size.setCurrentIndex(self.image_size.findData(exp.data_size))
            self.image_color.setCurrentIndex(self.image_color.findData(exp.data_color))
            for w in self.image_widgets:
                w.setVisible(takes_image_options(exp.data))
            self._fill_presets(exp)
            self.seed.setValue(exp.seed)
            self.threads.setValue(exp.threads)
            index = self.device.findData(exp.device)
            if index < 0:
                self.device.addItem(exp.device, exp.device)
                index = self.device.findData(exp.device)
            self.device.setCurrentIndex(index)
        finally:
            for w in signalling:
                w.blockSignals(False)
        self._build_knobs(exp.family)

    # reading it back -------------------------------------------------------------------------
    def experiment(self) -> Experiment:
        model = self.family.currentData()
        values = {name: _read(w) for name, w in self.knobs.items()}
        family = FAMILY_CONFIGS[model](**values)  # raises ConfigError with a clear message
        return Experiment(model=model, data=self.data.currentData(), family=family,
                          seed=self.seed.value(), device=self.device.currentData() or "auto",
                          threads=self.threads.value(), data_size=self.image_size.currentData(),
                          data_color=self.image_color.currentData())

    def use_data(self, data: str, size: int = 0, color: str = "auto") -> None:
        """Select imported data, with the family's known-good settings for it (the window resets)."""
        exp = dataclasses.replace(self._defaults(self.family.currentData(), data), data_size=size, data_color=color)
        self.set_experiment(exp)

    def _defaults(self, model: str, data: str | None = None) -> Experiment:
        """The known-good settings for a family and data set, keeping seed, device and threads."""
        return default_experiment(model, data, seed=self.seed.value(), device=self.device.currentData() or "auto",
                                  threads=self.threads.value())

    def _family_changed(self):
        model = self.family.currentData()
        self.set_experiment(self._defaults(model))
        self.changed.emit()

    def _data_changed(self):
        # a new data set brings its known-good settings
        model, data = self.family.currentData(), self.data.currentData()
        if data is None:
            return
        exp = self._defaults(model, data)
        if takes_image_options(data):
            exp = dataclasses.replace(exp, data_size=self.image_size.currentData(),
                                      data_color=self.image_color.currentData())
        self.set_experiment(exp)
        self.changed.emit()

    def _fill_presets(self, exp: Experiment) -> None:
        self.preset.blockSignals(True)
        self.preset.clear()
        for label, d in presets_for(exp.model):
            self.preset.addItem(label, f"builtin:{d}")
        for preset in LESSON_PRESETS.get(exp.model, []):
            self.preset.addItem(f"{FAMILY_LABELS[exp.model]} lesson: {preset.label}", f"lesson:{preset.name}")
        for i, (name, saved) in enumerate(self.user_presets):
            if saved.model == exp.model:
                self.preset.addItem(f"★ {name}", f"user:{i}")
        if self.preset.findData(f"builtin:{exp.data}") < 0:  # the others would switch to their own data
            self.preset.insertItem(0, "Defaults for this data", "keep:")
        self.preset.setCurrentIndex(max(self.preset.findData(f"builtin:{exp.data}"), 0))
        self.preset.blockSignals(False)

    def _preset_chosen(self, index: int):
        kind, value = self.preset.itemData(index).split(":", 1)
        if kind == "keep":  # this data's known-good settings
            self._data_changed()
            return
        if kind == "user":
            exp = self.user_presets[int(value)][1]
        elif kind == "lesson":
            exp = lesson_experiment(self.family.currentData(), value, seed=self.seed.value(),
                                    device=self.device.currentData() or "auto", threads=self.threads.value())
        else:
            exp = self._defaults(self.family.currentData(), value)
        self.set_experiment(exp)
        self.changed.emit()

    def add_user_preset(self, name: str, exp: Experiment) -> None:
        self.user_presets.append((name, exp))
        self._fill_presets(exp)
        self.preset.setCurrentIndex(self.preset.count() - 1)
        self.presets_changed.emit()

    def _ask_preset_name(self):
        try:
            exp = self.experiment()
        except ConfigError as exc:
            self.hint.setText(str(exc))
            return
        name, ok = QInputDialog.getText(self, "Save preset", "Name:", text=f"{exp.model} on {exp.data}")
        if ok and name.strip():
            self.add_user_preset(name.strip(), exp)

    def set_knob(self, name: str, value) -> None:
        if name in self.knobs:
            _write(self.knobs[name], value)

