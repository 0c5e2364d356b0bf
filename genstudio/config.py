"""The whole experiment as data: frozen dataclasses, validated once, JSON round-trip.

Each family's knobs carry metadata (help sentence, range or choices) that the CLI's --set and the
GUI's generated form both read.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from .data import DATASETS, REMOTE_DATASETS, looks_like_path

CONFIG_VERSION = 1
FAMILIES = ("gan", "vae", "diffusion", "ar")
IMAGE_SIZES = (0, 8, 16, 28, 32)
COLORS = ("auto", "grey", "rgb")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A config value a user gave is invalid; the message says which and why."""


MAX_SEED = 2**31 - 1       # what the settings panel can show
MAX_THREADS = 256
MAX_STEPS = 2**53          # (a step count stays exact as a float)
CLASS_ROWS_MAX = 10        # a conditional model of up to this many classes shows its samples as a row per class,
CLASS_ROW = 8              # of this many


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def short_repr(value) -> str:
    """A value for a message, cut short (a file may hold a 5,000-digit number)."""
    try:
        text = repr(value)
    except ValueError:   # an int too long to turn into digits
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def knob(default, help: str, low=None, high=None, choices=None):
    return field(default=default, metadata={"help": help, "low": low, "high": high, "choices": choices})


def condition_knob():
    return knob("auto", "Condition on the class (class), or not (none); auto: class where the data has labels.",
                choices=("auto", "none", "class"))


def label_dropout_knob():
    return knob(0.1, "Share of training examples whose class is hidden, so the same network "
                     "also learns unconditional generation (what guidance needs).", 0.0, 1.0)


def guidance_knob():
    return knob(1.0, "Classifier-free guidance scale for snapshots and metrics: 0 unconditional, "
                     "1 conditional, above 1 pushed further towards the class.", 0.0, 20.0)


@dataclass(frozen=True)
class FamilyConfig:
    def __post_init__(self):
        for f in fields(self):
            _check_value(self, f, getattr(self, f.name))

    def conditional(self, has_labels: bool) -> bool:
        """Whether the model is class-conditional on data with (or without) labels."""
        condition = getattr(self, "condition", "none")
        return condition == "class" or (condition == "auto" and has_labels)

    @classmethod
    def knobs(cls) -> list[dataclasses.Field]:
        return list(fields(cls))

    @classmethod
    def from_strings(cls, pairs: dict[str, str], base: "FamilyConfig | None" = None) -> "FamilyConfig":
        """Parse --set key=value strings against this dataclass's field types."""
        by_name = {f.name: f for f in fields(cls)}
        values = dataclasses.asdict(base) if base is not None else {}
        for key, text in pairs.items():
            if key not in by_name:
                raise ConfigError(f"unknown option {key!r} for {cls.family}; valid keys: {', '.join(by_name)}")
            values[key] = _parse(by_name[key], text)
        return cls(**cls.follow(values, set(pairs)))

    @classmethod
    def follow(cls, values: dict, changed: set[str]) -> dict:
        """`values` with the settings that depend on the `changed` ones made to fit them."""
        return values


def _type_of(f: dataclasses.Field) -> type:
    return {"int": int, "float": float, "str": str,
            "bool": bool}[f.type if isinstance(f.type, str) else f.type.__name__]


def _parse(f: dataclasses.Field, text: str):
    kind = _type_of(f)
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        return kind(text)
    except ValueError:
        raise ConfigError(f"{f.name}={text!r}: expected {kind.__name__}") from None


def _check_value(obj, f: dataclasses.Field, value) -> None:
    kind = _type_of(f)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(f"{f.name}={short_repr(value)}: too large") from None
        object.__setattr__(obj, f.name, value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{f.name}={short_repr(value)}: expected {kind.__name__}")
    meta = f.metadata
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"{f.name}={short_repr(value)}: must be a finite number")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{f.name}={short_repr(value)}: choose one of {', '.join(map(str, meta['choices']))}")
    if meta.get("low") is not None and value < meta["low"]:
        raise ConfigError(f"{f.name}={short_repr(value)}: must be >= {meta['low']}")
    if meta.get("high") is not None and value > meta["high"]:
        raise ConfigError(f"{f.name}={short_repr(value)}: must be <= {meta['high']}")


@dataclass(frozen=True)
class GANConfig(FamilyConfig):
    family = "gan"
    lr: float = knob(1e-3, "Adam learning rate of both networks.", 1e-6, 1.0)
    batch_size: int = knob(256, "Real and fake samples per step.", 1, 65536)
    loss: str = knob("r1", "Non-saturating loss (ns), with an R1 gradient penalty on real data (r1), "
                           "or WGAN-GP (wgan-gp).",
                     choices=("ns", "r1", "wgan-gp"))
    penalty: float = knob(0.1, "Weight of the R1 or gradient penalty.", 0.0, 1000.0)
    latent_dim: int = knob(8, "Size of the noise vector the generator maps to data.", 1, 512)
    width: int = knob(64, "Hidden units per layer (2D) or base channels (images).", 4, 2048)
    depth: int = knob(3, "Hidden layers of the 2D MLPs.", 1, 8)
    d_steps: int = knob(1, "Discriminator updates per generator update.", 1, 10)
    beta1: float = knob(0.5, "Adam beta1; GANs train more stably below the default 0.9.", 0.0, 0.999)
    beta2: float = knob(0.99, "Adam beta2.", 0.0, 0.9999)
    ema: float = knob(0.999, "Decay of the generator's weight average used for samples (0 = off).", 0.0, 0.99999)
    condition: str = condition_knob()


@dataclass(frozen=True)
class VAEConfig(FamilyConfig):
    family = "vae"
    lr: float = knob(1e-3, "Adam learning rate.", 1e-6, 1.0)
    batch_size: int = knob(128, "Examples per step.", 1, 65536)
    latent_dim: int = knob(8, "Size of the latent code z (2 lets you see the whole latent plane).", 1, 512)
    beta: float = knob(1.0, "Weight of the KL term; above 1 pushes towards disentangled factors.", 0.0, 100.0)
    likelihood: str = knob("auto", "Decoder likelihood: bernoulli for images, gaussian for points (auto picks).",
                           choices=("auto", "bernoulli", "gaussian"))
    width: int = knob(256, "Hidden units per layer.", 4, 4096)
    depth: int = knob(2, "Hidden layers of the encoder and of the decoder.", 1, 8)
    weight_decay: float = knob(0.0, "Decoupled weight decay (AdamW): pulls the weights towards zero, so a "
                                    "model of a small data set learns its items less by heart.", 0.0, 1.0)
    condition: str = condition_knob()
    prior: str = knob("fitted", "Where samples' codes come from: the prior N(0, I) the VAE is trained towards "
                                "(normal), or a mixture of Gaussians fitted to the training examples' codes as "
                                "training goes (fitted), which skips the holes between them where the decoder "
                                "has seen no example.", choices=("normal", "fitted"))


@dataclass(frozen=True)
class DiffusionConfig(FamilyConfig):
    family = "diffusion"
    lr: float = knob(1e-3, "Adam learning rate.", 1e-6, 1.0)
    batch_size: int = knob(256, "Examples per step.", 1, 65536)
    timesteps: int = knob(1000, "Length of the training noise schedule.", 2, 10000)
    schedule: str = knob("linear", "Noise schedule: linear betas (DDPM) or cosine (improved DDPM).",
                         choices=("linear", "cosine"))
    objective: str = knob("eps", "What the network learns: the noise in a noised example (eps, DDPM) or the "
                                 "straight path's velocity from the example to its noise (flow, flow matching).",
                          choices=("eps", "flow"))
    coupling: str = knob("ot", "Flow matching: which noise each example is paired with in a batch: a nearby one "
                               "(ot, minibatch optimal transport), which makes the sampling paths straighter, or "
                               "any (independent).", choices=("ot", "independent"))
    sampler: str = knob("ddpm", "Sampler for snapshots and metrics: DDPM (stochastic) or DDIM (deterministic) "
                                "for eps; Euler or Heun (two network calls a step) for flow.",
                        choices=("ddpm", "ddim", "euler", "heun"))
    sample_steps: int = knob(100, "Denoising steps at sampling time (up to timesteps).", 1, 10000)
    width: int = knob(128, "Hidden units (2D) or base channels (images).", 4, 2048)
    depth: int = knob(3, "Residual blocks of the 2D network.", 1, 8)
    ema: float = knob(0.999, "Decay of the weight average used for sampling (0 = off).", 0.0, 0.99999)
    condition: str = condition_knob()
    label_dropout: float = label_dropout_knob()
    guidance: float = guidance_knob()

    @classmethod
    def follow(cls, values, changed):
        """A changed objective brings its own sampler, unless one was asked for."""
        samplers = FLOW_SAMPLERS if values.get("objective") == "flow" else EPS_SAMPLERS
        if "objective" in changed and "sampler" not in changed and values.get("sampler") not in samplers:
            values = {**values, "sampler": "euler" if samplers is FLOW_SAMPLERS else "ddim"}
        return values

    def __post_init__(self):
        super().__post_init__()
        wanted = FLOW_SAMPLERS if self.objective == "flow" else EPS_SAMPLERS
        if self.sampler not in wanted:
            raise ConfigError(f"sampler={self.sampler}: the {self.objective} objective samples with "
                              f"{' or '.join(wanted)}")


EPS_SAMPLERS, FLOW_SAMPLERS = ("ddpm", "ddim"), ("euler", "heun")


@dataclass(frozen=True)
class ARConfig(FamilyConfig):
    family = "ar"
    lr: float = knob(1e-3, "AdamW learning rate.", 1e-6, 1.0)
    batch_size: int = knob(64, "Sequences per step.", 1, 65536)
    n_layer: int = knob(3, "Transformer blocks.", 1, 24)
    n_head: int = knob(4, "Attention heads per block.", 1, 32)
    n_embd: int = knob(64, "Width of the token embeddings (divisible by n_head).", 8, 2048)
    dropout: float = knob(0.0, "Dropout rate during training.", 0.0, 0.9)
    bins: int = knob(128, "Tokens per axis when 2D points are quantised.", 4, 1024)
    levels: int = knob(0, "Intensity levels of image pixels (0 = the data's own; "
                          "4 for images over 256 values, as 28x28).",
                       0, 256)
    temperature: float = knob(1.0, "Sampling temperature: below 1 sharpens, above 1 flattens.", 0.01, 10.0)
    ema: float = knob(0.0, "Decay of the weight average used for sampling (0 = off: the live weights).", 0.0, 0.99999)
    top_k: int = knob(0, "Sample only from the k most likely tokens (0 = all).", 0, 100000)
    top_p: float = knob(1.0, "Sample only from the likeliest tokens that together reach this probability "
                             "(nucleus sampling; 1 = all).", 0.01, 1.0)
    condition: str = condition_knob()
    label_dropout: float = label_dropout_knob()
    guidance: float = guidance_knob()

    def __post_init__(self):
        super().__post_init__()
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if self.levels == 1:
            raise ConfigError("levels=1: a pixel needs at least 2 levels (or 0 for the data's own)")


FAMILY_CONFIGS: dict[str, type[FamilyConfig]] = {c.family: c for c in (GANConfig, VAEConfig, DiffusionConfig, ARConfig)}


@dataclass(frozen=True)
class Experiment:
    model: str
    data: str
    family: FamilyConfig
    steps: int | None = None
    seconds: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int = 0          # 0 = cores - 1 (the GUI thread keeps a core)
    data_size: int = 0        # imported and downloaded images: side in pixels (0 = their own, up to 32)
    data_color: str = "auto"  # imported and downloaded images: grey | rgb | auto (as the files are)

    def __post_init__(self):
        if self.model not in FAMILIES:
            raise ConfigError(f"unknown model {self.model!r}; choose one of: {', '.join(FAMILIES)}")
        if not isinstance(self.data, str) or not (self.data in DATASETS + REMOTE_DATASETS
                                                  or looks_like_path(self.data)):
            raise ConfigError(f"unknown data set {self.data!r}; "
                              f"choose one of: {', '.join(DATASETS + REMOTE_DATASETS)}, "
                              "or give a file or folder")
        if not isinstance(self.family, FAMILY_CONFIGS[self.model]):
            raise ConfigError(f"family config {type(self.family).__name__} does not match model {self.model!r}")
        if self.steps is not None and not (_is_int(self.steps) and 0 < self.steps <= MAX_STEPS):
            raise ConfigError(f"steps must be a whole number from 1 to {MAX_STEPS:,}, got {short_repr(self.steps)}")
        if self.seconds is not None and not (isinstance(self.seconds, (int, float)) and not isinstance(
                self.seconds, bool) and math.isfinite(self.seconds) and self.seconds > 0):
            raise ConfigError(f"seconds must be a positive number, got {short_repr(self.seconds)}")
        if not (_is_int(self.seed) and 0 <= self.seed <= MAX_SEED):
            raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED:,}, got {short_repr(self.seed)}")
        if not isinstance(self.device, str) or self.device not in DEVICES:
            raise ConfigError(f"unknown device {short_repr(self.device)}; choose one of: {', '.join(DEVICES)}")
        if not (_is_int(self.threads) and 0 <= self.threads <= MAX_THREADS):
            raise ConfigError(f"threads must be a whole number from 0 to {MAX_THREADS}, got {short_repr(self.threads)}")
        if not _is_int(self.data_size) or self.data_size not in IMAGE_SIZES:
            raise ConfigError(f"data_size must be one of {', '.join(map(str, IMAGE_SIZES))} (0 = automatic), "
                              f"got {self.data_size!r}")
        if not isinstance(self.data_color, str) or self.data_color not in COLORS:
            raise ConfigError(f"data_color must be one of {', '.join(COLORS)}, got {self.data_color!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["family"] = dataclasses.asdict(self.family)
        return {"version": CONFIG_VERSION, **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "Experiment":
        if not isinstance(d, dict) or not isinstance(d.get("family"), dict):
            raise ConfigError("malformed config: not a dictionary of settings with a family")
        d = dict(d)
        version = d.pop("version", CONFIG_VERSION)
        if not _is_int(version) or version < 1:
            raise ConfigError(f"malformed config: version {short_repr(version)}")
        if version > CONFIG_VERSION:
            raise ConfigError(f"config version {version} is newer than this GenStudio understands ({CONFIG_VERSION})")
        try:
            family = FAMILY_CONFIGS[d["model"]](**{**LEGACY_DEFAULTS.get(d["model"], {}), **d.pop("family")})
            return cls(family=family, **d)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"malformed config: {short_repr(exc)}") from None

    @classmethod
    def from_json(cls, text: str) -> "Experiment":
        return cls.from_dict(json.loads(text))


# Settings that came later, as files written before them had them: a model without the condition
# knob was unconditional, a VAE without the prior knob sampled its codes from N(0, I), and a
# transformer without label dropout saw every class.
LEGACY_DEFAULTS = {family: {"condition": "none"} for family in ("gan", "vae", "diffusion", "ar")}
LEGACY_DEFAULTS["vae"]["prior"] = "normal"
LEGACY_DEFAULTS["ar"]["label_dropout"] = 0.0


def default_experiment(model: str, data: str | None = None, **overrides) -> Experiment:
    if model not in FAMILIES:
        raise ConfigError(f"unknown model {model!r}; choose one of: {', '.join(FAMILIES)}")
    data = data or DEFAULT_DATA[model]
    family = FAMILY_CONFIGS[model](**PRESETS.get((model, _preset_key(data)), {}))
    return Experiment(model=model, data=data, family=family, **overrides)


DEFAULT_DATA = {"gan": "ring8", "vae": "digits", "diffusion": "grid25", "ar": "digits"}

def _preset_key(data: str) -> str:
    """Downloaded and imported image sets take the settings measured on 28x28 grey digits ("mnist");
    the networks scale themselves to other sizes and to colour. Imported text takes those measured on a
    32,000-line list ("text")."""
    if data.lower().endswith(".txt"):
        return "text"
    if data in DATASETS or data.lower().endswith(".csv"):
        return data
    return "mnist"


# Lessons: named settings on top of a data set's known-good ones, each showing one idea.
class LessonPreset(NamedTuple):
    name: str     # what a lesson file calls it ("FAMILY:NAME"); never renamed
    label: str    # what the settings panel shows
    data: str
    knobs: dict


LESSON_PRESETS: dict[str, list[LessonPreset]] = {
    "gan": [LessonPreset("ring", "healthy: the ring's 8 modes, R1 penalty", "ring8", {}),
            LessonPreset("mode-collapse", "mode collapse on purpose: no penalty, Adam beta1 0.9", "ring8",
                         {"loss": "ns", "penalty": 0.0, "lr": 2e-3, "beta1": 0.9, "ema": 0.0}),
            LessonPreset("never-settles", "never settles on purpose: learning rate 0.3", "ring8",
                         {"loss": "ns", "penalty": 0.0, "lr": 0.3, "ema": 0.0})],
    # (the latent-map lessons: unconditional, so that the map sorts the classes itself)
    "vae": [LessonPreset("latent-2d", "2-d latent: the whole map on screen", "digits",
                         {"latent_dim": 2, "condition": "none"}),
            LessonPreset("high-beta", "high beta (2): tidy map, blurry rebuilds", "digits",
                         {"latent_dim": 2, "beta": 2.0, "condition": "none"}),
            LessonPreset("low-beta", "low beta (0.25): sharp rebuilds, patchy map", "digits",
                         {"latent_dim": 2, "beta": 0.25, "condition": "none"}),
            LessonPreset("shapes-5d", "5-d latent for the 5 factors of shapes: which does it use?", "shapes",
                         {"latent_dim": 5, "condition": "none"}),
            LessonPreset("digits-style", "a class-conditional VAE: the code keeps the style, the class is given",
                         "digits", {"latent_dim": 2})],
    "diffusion": [LessonPreset("ring8", "ring8: watch the particles split into the 8 modes (DDIM, 50 steps)", "ring8",
                               {"sampler": "ddim", "sample_steps": 50}),
                  LessonPreset("swissroll", "swiss roll: noise pulled onto a thin curve", "swissroll",
                               {"sampler": "ddim", "sample_steps": 50}),
                  LessonPreset("digits", "digits: denoise step by step (DDPM, 100 steps)", "digits", {}),
                  LessonPreset("digits-cosine", "digits, cosine schedule: compare the schedules' plots", "digits",
                               {"schedule": "cosine"}),
                  LessonPreset("ring8-flow", "ring8 by flow matching: straight paths (Euler, 50 steps)", "ring8",
                               {"objective": "flow", "sampler": "euler", "sample_steps": 50}),
                  LessonPreset("digits-unconditional", "digits without classes: whatever digit comes", "digits",
                               {"condition": "none"})],
    "ar": [LessonPreset("digits", "digits: pixel by pixel, the bars over 17 grey levels", "digits", {}),
           LessonPreset("mnist", "28x28 MNIST digits (downloaded once): rows of 4 grey levels", "mnist", {}),
           LessonPreset("names", "names: one character at a time", "names", {}),
           LessonPreset("names-cold", "names at temperature 0.5: safer, duller names", "names", {"temperature": 0.5}),
           # measured: its held-out loss is lowest (1.95 nats/char) near step 500, 1.99 by step 1,300 while the
           # training names' falls to 1.48; the names defaults (dropout 0.5, a weight average) still fall there
           LessonPreset("names-overfit", "names, a big model without dropout: watch it overfit", "names",
                        {"n_embd": 128, "n_layer": 4, "dropout": 0.0, "ema": 0.0})],
}


def lesson_preset(model: str, name: str) -> LessonPreset:
    """A family's lesson preset by name (KeyError when there is none)."""
    for preset in LESSON_PRESETS[model]:
        if preset.name == name:
            return preset
    raise KeyError(name)


def lesson_experiment(model: str, name: str, data: str | None = None, knobs: dict | None = None,
                      **overrides) -> Experiment:
    """A family's lesson preset as an experiment; `data` and `knobs` (a lesson step's own) replace the
    preset's data set and add to its knobs. ConfigError when a knob's value is out of range."""
    preset = lesson_preset(model, name)
    exp = default_experiment(model, data or preset.data, **overrides)
    return dataclasses.replace(exp, family=dataclasses.replace(exp.family, **{**preset.knobs, **(knobs or {})}))


# Known-good settings where the family default is not the best choice for a data set.
PRESETS: dict[tuple[str, str], dict] = {
    ("gan", "digits"): {"latent_dim": 32, "width": 32, "batch_size": 128, "lr": 5e-4, "loss": "ns"},
    ("gan", "shapes"): {"latent_dim": 32, "width": 32, "batch_size": 128, "lr": 5e-4, "loss": "ns"},
    ("vae", "ring8"): {"latent_dim": 2, "likelihood": "gaussian"},
    ("vae", "grid25"): {"latent_dim": 2, "likelihood": "gaussian"},
    ("diffusion", "digits"): {"width": 32, "batch_size": 128},
    ("diffusion", "shapes"): {"width": 32, "batch_size": 64},
    # the built-in names are 4,647 lines: 300 s is ~180 passes over them, and without dropout the held-out
    # loss climbed back to 2.39 nats/char (above the bigram's 2.34); dropout 0.5 and a weight average: 1.88
    ("ar", "names"): {"n_embd": 64, "n_layer": 3, "batch_size": 64, "dropout": 0.5, "ema": 0.99},
    # imported text, measured on the 32,000 commonest US surnames for 300 s: dropout 0 2.18 nats/char (its best,
    # 2.09, at 100 s), 0.2 2.03, 0.3 2.04, 0.5 2.07, each with the weight average (bigram 2.54)
    ("ar", "text"): {"dropout": 0.2, "ema": 0.99},
    # 28x28 and larger (docs/metrics.md, "Real-size images"; genstudio/bench/images28.py measures them): networks
    # sized for a lesson's minutes on one CPU core, diffusion sampled with 20 DDIM steps
    ("gan", "mnist"): {"latent_dim": 32, "width": 16, "batch_size": 64, "lr": 5e-4, "loss": "r1", "penalty": 1.0},
    # the VAE measured on 10,000 real handwritten characters (Kuzushiji-MNIST's test split, 9,000 to train),
    # held-out negative ELBO over 300 s: two hidden layers overfit (best 225 nats at 30 s, 256 at 300 s); one
    # overfits less (211 at 40 s, 221 at 300 s); one with weight decay 0.05 holds (209.5-210 from 70 s on).
    # Its samples need the fitted prior: FD 8.9 unconditional (38 from N(0, I)), 10.9 told the class with
    # class accuracy 0.90 (51 and 0.49 from N(0, I))
    ("vae", "mnist"): {"latent_dim": 32, "width": 400, "depth": 1, "lr": 2e-3, "weight_decay": 0.05},
    # flow matching, measured on Kuzushiji-MNIST for 300 s (FD of 20 Euler steps: 13.5 at guidance 1, 7.2 at
    # 1.5; 10 steps: 20-21.5 at 1, 15.1 at 1.25, 9.7-11.8 at 1.5), where DDPM noise prediction (20 DDIM steps)
    # gave 48 at guidance 1 and 39 at 2; on the font-drawn digits 10 steps gave 7.7 at 1, 13.7 at 1.25 and
    # 21.9 at 1.5. Guidance 1.25 holds on both; 10 guided steps cost what 20 unguided ones do
    ("diffusion", "mnist"): {"width": 32, "batch_size": 32, "objective": "flow", "sampler": "euler",
                             "sample_steps": 10, "guidance": 1.25},
    # sampled at temperature 1 (the model's own distribution): on real handwriting (Kuzushiji-MNIST, 300 s)
    # FD 9.8 at 1.0 against 22.8 at 0.9 and 61 at 0.8, where the font-drawn digits had favoured 0.9. Guided
    # there (label dropout 0.1), class accuracy / FD: 0.48 / 9.0 at 1, 0.56 / 6.8 at 1.5, 0.69 / 9.8 at 2,
    # 0.76 / 14.5 at 3, 0.76 / 24.2 at 4
    ("ar", "mnist"): {"batch_size": 32, "lr": 2e-3, "ema": 0.999, "guidance": 2.0},
}
