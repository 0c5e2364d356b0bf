"""Guided lessons: a title and a list of steps, each setting up a lesson preset and showing one idea.

A lesson is a UTF-8 JSON file (at most 1 MB):

    {"format": 1,
     "title": "A GAN on a ring: what the discriminator sees",
     "steps": [{"text": "Watch the purple points ...", "preset": "gan:ring", "view": "family",
                "page": "Generator vs discriminator", "wait": {"step": 300}},
               {"text": "...", "preset": "gan:ring", "data": "grid25", "knobs": {"lr": 0.001},
                "view": "family", "page": "Quality", "wait": {"metric": "hq_fraction", "at_least": 0.5}}]}

Each step:
  text    what the student reads (at most MAX_TEXT characters)
  preset  "FAMILY:NAME", a preset of genstudio.config.LESSON_PRESETS, e.g. "gan:ring" (files written
          before presets had names say "FAMILY:INDEX", e.g. "gan:0": still read)
  data    optional, a built-in data set in place of the preset's (genstudio.data.DATASETS, or a
          downloaded set: mnist, fashion-mnist)
  knobs   optional, the family's settings on top of the preset's, e.g. {"lr": 0.001, "width": 64}
          (the names `genstudio train --help` lists, in their ranges)
  view    "samples" (the samples tab), "family" (the family's own view) or "curves" (the loss curves)
  page    optional, with view "family" only: a page of that view (VIEW_PAGES)
  wait    optional, what lights up "Next": {"step": N} (the run reaches step N), or
          {"metric": NAME, "at_least": X} / {"metric": NAME, "at_most": X} on the latest evaluation,
          NAME one of METRICS[family] that the step's data set reports, or (the transformer only)
          {"head": PATTERN, "at_least": X}: some attention head, on the latest snapshot's probe, gives
          at least X of its attention to PATTERN, one of HEAD_PATTERNS (engine/attention.py), or
          {"past_best": N}: the run has trained N steps past its best held-out step (the held-out
          curve has turned up: the model is learning its training items by heart).
Unknown keys are errors, so a typo never passes silently.

No Qt and no torch here: the CLI, the tests and the window all read lessons through this module.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass

from .config import (
    FAMILY_CONFIGS,
    LESSON_PRESETS,
    MAX_STEPS,
    ConfigError,
    Experiment,
    lesson_experiment,
    lesson_preset,
    short_repr,
)
from .data import DATASETS, REMOTE_DATASETS, TEXT_SETS
from .paths import resource

FORMAT = 1
MAX_BYTES = 1_000_000
MAX_TITLE = 120
MAX_TEXT = 600
VIEWS = ("samples", "family", "curves")

# The pages of each family view: the titles given to pages.addTab in genstudio/ui/views/*.py.
VIEW_PAGES: dict[str, tuple[str, ...]] = {
    "gan": ("Generator vs discriminator", "Quality"),
    "vae": ("Latent map", "Sliders", "Interpolation", "KL and beta", "Quality"),
    "diffusion": ("Denoise", "Forward: adding noise", "Schedule and loss", "Quality"),
    "ar": ("Write", "Complete an image", "Loss", "What it looks at", "Embeddings", "Quality"),
}

# What genstudio/engine/evaluate.py reports, by kind of data set. Left out: modes_total and
# class_total (constants of the data set) and class_histogram (a list), nothing to wait for.
_MODES = ("modes_captured", "modes_captured_1pct", "hq_fraction", "reverse_kl")
_IMAGE = ("fd", "class_coverage", "confidence")
_LIKELIHOOD = ("nll_nats", "bits_per_dim")
_CONDITIONAL = ("class_accuracy",)   # a class-conditional model's samples (diffusion, by default on labels)
KIND_METRICS: dict[str, tuple[str, ...]] = {
    "mixture": _MODES + ("energy_distance",) + _LIKELIHOOD,   # ring8, grid25
    "points": ("energy_distance",) + _LIKELIHOOD,
    "image": _IMAGE + _CONDITIONAL + _LIKELIHOOD,              # labelled image sets
    "text": ("novel_fraction", "nats_per_char") + _LIKELIHOOD,
}
# ... and by family: GANs and diffusion models report no likelihood, and only the transformer writes text.
METRICS: dict[str, tuple[str, ...]] = {
    "gan": _MODES + ("energy_distance",) + _IMAGE,
    "vae": _MODES + ("energy_distance",) + _IMAGE + _LIKELIHOOD,
    "diffusion": _MODES + ("energy_distance",) + _IMAGE + _CONDITIONAL,
    "ar": _MODES + ("energy_distance",) + _IMAGE + _LIKELIHOOD + ("nats_per_char", "novel_fraction"),
}
_DATA_KINDS = {"ring8": "mixture", "grid25": "mixture", "digits": "image", "shapes": "image", "mnist": "image",
               "fashion-mnist": "image", "names": "text"}


def data_kind(data: str) -> str:
    """The KIND_METRICS key of a lesson preset's data set (the other built-in sets are 2D points)."""
    return _DATA_KINDS.get(data, "points")


def reported_metrics(family: str, data: str) -> tuple[str, ...]:
    """The metrics an evaluation of this family on this built-in data set reports."""
    kind = data_kind(data)
    return tuple(m for m in METRICS[family] if m in KIND_METRICS[kind])


# what a head may look at (engine/attention.py's PATTERNS), as a wait names it and as the student reads it
HEAD_PATTERNS = {"previous": "one position back", "first": "the start", "self": "the token just read"}


class LessonError(Exception):
    """A lesson file that cannot be used; the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class LessonStep:
    text: str
    family: str
    preset: str
    view: str
    data: str | None = None              # the step's own data set, in place of the preset's
    knobs: tuple[tuple[str, object], ...] = ()   # the step's own knobs, on top of the preset's
    page: str | None = None
    wait_step: int | None = None
    wait_metric: str | None = None
    wait_at_least: float | None = None
    wait_at_most: float | None = None
    wait_head: str | None = None
    wait_past_best: int | None = None
    beside: tuple[str, str] | None = None    # (family, preset) of a second run beside this one

    def experiment(self, **overrides) -> Experiment:
        return lesson_experiment(self.family, self.preset, self.data, dict(self.knobs), **overrides)

    def beside_experiment(self) -> Experiment | None:
        """The second run's settings (its preset's own data), None when the step has one run."""
        return lesson_experiment(*self.beside) if self.beside else None

    def reached(self, step: int, metrics: dict[str, float], heads: dict[str, float] | None = None,
                best_step: int | None = None) -> bool:
        """Whether "Next" may light up, given the run's step, its latest evaluation, the largest share
        any head gives each pattern (engine/attention.py's strongest) and its best held-out step."""
        if self.wait_step is not None:
            return step >= self.wait_step
        if self.wait_past_best is not None:
            return best_step is not None and step - best_step >= self.wait_past_best
        if self.wait_head is not None:
            return (heads or {}).get(self.wait_head, 0.0) >= self.wait_at_least
        if self.wait_metric is None:
            return True
        value = metrics.get(self.wait_metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.wait_at_least is not None:
            return value >= self.wait_at_least
        return value <= self.wait_at_most

    def wait_text(self) -> str:
        if self.wait_step is not None:
            return f"train to step {self.wait_step}"
        if self.wait_past_best is not None:
            return f"train until the best held-out step is {self.wait_past_best:,} steps behind"
        if self.wait_head is not None:
            looks = HEAD_PATTERNS[self.wait_head]
            return f"train until a head puts {self.wait_at_least:.0%} of its attention on {looks}"
        if self.wait_metric is None:
            return ""
        if self.wait_at_least is not None:
            return f"train until {self.wait_metric} >= {self.wait_at_least:g}"
        return f"train until {self.wait_metric} <= {self.wait_at_most:g}"


@dataclass(frozen=True)
class Lesson:
    title: str
    path: str
    steps: tuple[LessonStep, ...]


def builtin_lessons() -> list[Lesson]:
    """The lessons shipped in genstudio/resources/lessons, in file-name order."""
    return [load_lesson(p) for p in sorted(glob.glob(os.path.join(resource("lessons"), "*.json")))]


def load_lesson(path) -> Lesson:
    path = os.fspath(path)
    name = os.path.basename(path) or path

    def fail(problem: str):
        raise LessonError(f"{name}: {problem}")

    if os.path.isdir(path):
        fail("is a folder, not a lesson file")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        fail("no such file")
    except OSError as exc:
        fail(f"cannot read it ({exc.strerror or exc})")
    if len(raw) > MAX_BYTES:
        fail(f"larger than {MAX_BYTES // 1_000_000} MB: not a lesson file")
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark, as Windows Notepad writes, is fine
    except UnicodeDecodeError as exc:
        fail(f"not UTF-8 text (bad byte at offset {exc.start})")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    except RecursionError:
        fail("not valid JSON: nested too deeply")
    except ValueError:   # Python refuses to read an integer of thousands of digits
        fail("not valid JSON here: a number with too many digits")

    if not isinstance(doc, dict):
        fail("expected a JSON object {...} with format, title and steps")
    _check_keys(doc, ("format", "title", "steps"), ("format", "title", "steps"), fail)
    if _kind(doc["format"]) != "int" or doc["format"] != FORMAT:
        fail(f"format {short_repr(doc['format'])} is not supported (this GenStudio reads format {FORMAT})")
    title = doc["title"]
    if not isinstance(title, str) or not title.strip():
        fail("title must be a non-empty string")
    if len(title) > MAX_TITLE:
        fail(f"title is {len(title)} characters long (at most {MAX_TITLE})")
    steps = doc["steps"]
    if not isinstance(steps, list) or not steps:
        fail("steps must be a non-empty list")
    parsed = []
    for number, raw_step in enumerate(steps, 1):
        def step_fail(problem: str, number=number):
            fail(f"step {number}: {problem}")
        parsed.append(_parse_step(raw_step, step_fail))
    return Lesson(title.strip(), path, tuple(parsed))


def _kind(value) -> str:
    """JSON's names for Python values, for messages (and bool is not a number here)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "int"
    return {float: "number", str: "string", list: "list", dict: "object", type(None): "null"}.get(type(value), "?")


def _check_keys(d: dict, allowed: tuple[str, ...], required: tuple[str, ...], fail) -> None:
    for key in d:
        if key not in allowed:
            fail(f"unknown key {short_repr(key)} (expected {', '.join(allowed)})")
    for key in required:
        if key not in d:
            fail(f"missing {short_repr(key)}")


def _parse_step(d, fail) -> LessonStep:
    if not isinstance(d, dict):
        fail(f"expected an object {{...}}, got {_kind(d)}")
    _check_keys(d, ("text", "preset", "data", "knobs", "view", "page", "wait", "beside"), ("text", "preset", "view"),
                fail)
    text = d["text"]
    if not isinstance(text, str) or not text.strip():
        fail("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        fail(f"text is {len(text)} characters long (at most {MAX_TEXT}): split the step")
    family, preset = _parse_preset(d["preset"], fail)
    own_data = d.get("data")
    choices = [name for name in DATASETS + REMOTE_DATASETS if family == "ar" or name not in TEXT_SETS]
    if own_data is not None and own_data not in choices:
        fail(f"unknown data set {short_repr(own_data)} for {family} (choose {', '.join(choices)})")
    knobs = _parse_knobs(d.get("knobs", {}), family, fail)
    try:
        lesson_experiment(family, preset, own_data, dict(knobs))
    except ConfigError as exc:
        fail(f"knobs: {exc}")
    data = own_data or lesson_preset(family, preset).data

    view = d["view"]
    if view not in VIEWS:
        fail(f"unknown view {short_repr(view)} (choose {', '.join(VIEWS)})")
    page = d.get("page")
    if page is not None:
        if view != "family":
            fail(f"page {short_repr(page)} needs view \"family\" (the view is {short_repr(view)})")
        if page not in VIEW_PAGES[family]:
            fail(f"unknown page {short_repr(page)} for {family} (choose {', '.join(map(repr, VIEW_PAGES[family]))})")

    wait = d.get("wait")
    wait_step = metric = at_least = at_most = head = past_best = None
    if wait is not None:
        if not isinstance(wait, dict):
            fail(f"wait must be an object like {{\"step\": 300}}, got {_kind(wait)}")
        if "step" in wait:
            _check_keys(wait, ("step",), (), lambda p: fail(f"wait: {p}"))
            wait_step = wait["step"]
            if _kind(wait_step) != "int" or not 1 <= wait_step <= MAX_STEPS:
                fail(f"wait step must be a whole number from 1 to {MAX_STEPS:,}, got {short_repr(wait_step)}")
        elif "metric" in wait:
            _check_keys(wait, ("metric", "at_least", "at_most"), (), lambda p: fail(f"wait: {p}"))
            metric = wait["metric"]
            reported = reported_metrics(family, data)
            if metric not in METRICS[family]:
                fail(f"unknown metric {short_repr(metric)} for {family} (choose {', '.join(reported)})")
            if metric not in reported:
                fail(f"metric {short_repr(metric)} is not measured on {data} (choose {', '.join(reported)})")
            if ("at_least" in wait) == ("at_most" in wait):
                fail(f"wait on {short_repr(metric)} needs one bound: at_least or at_most")
            bound = wait.get("at_least", wait.get("at_most"))
            if _kind(bound) not in ("int", "number") or not abs(bound) <= 1e300:   # (inf and nan fail too)
                fail(f"wait bound must be a number, got {short_repr(bound)}")
            if "at_least" in wait:
                at_least = float(bound)
            else:
                at_most = float(bound)
        elif "head" in wait:
            _check_keys(wait, ("head", "at_least"), ("head", "at_least"), lambda p: fail(f"wait: {p}"))
            head, at_least = wait["head"], wait["at_least"]
            if family != "ar":
                fail("wait on a head needs a transformer preset (ar:...)")
            if head not in HEAD_PATTERNS:
                fail(f"unknown head pattern {short_repr(head)} (choose {', '.join(HEAD_PATTERNS)})")
            if _kind(at_least) not in ("int", "number") or not 0 < at_least <= 1:
                fail(f"wait at_least must be a share from 0 to 1, got {short_repr(at_least)}")
            at_least = float(at_least)
        elif "past_best" in wait:
            _check_keys(wait, ("past_best",), (), lambda p: fail(f"wait: {p}"))
            past_best = wait["past_best"]
            if family == "gan":
                fail("wait on past_best needs a model whose held-out loss ranks its weights (not gan:...)")
            if _kind(past_best) != "int" or not 1 <= past_best <= MAX_STEPS:
                fail(f"wait past_best must be a whole number of steps from 1 to {MAX_STEPS:,}, "
                     f"got {short_repr(past_best)}")
        else:
            fail("wait needs \"step\", \"metric\", \"head\" or \"past_best\"")
    beside = _parse_preset(d["beside"], fail) if "beside" in d else None
    return LessonStep(text.strip(), family, preset, view, own_data, knobs, page, wait_step, metric, at_least,
                      at_most, head, past_best, beside)


def _parse_preset(preset, fail) -> tuple[str, str]:
    """(family, preset name) from "FAMILY:NAME" (or the older "FAMILY:INDEX")."""
    if not isinstance(preset, str) or preset.count(":") != 1:
        fail(f"preset must be a string \"FAMILY:NAME\" like \"gan:ring\", got {short_repr(preset)}")
    family, _, name = preset.partition(":")
    if family not in LESSON_PRESETS:
        fail(f"unknown family {short_repr(family)} in preset {short_repr(preset)} (choose {', '.join(LESSON_PRESETS)})")
    names = [p.name for p in LESSON_PRESETS[family]]
    if name.isascii() and name.isdecimal() and len(name) <= 4 and int(name) < len(names):
        return family, names[int(name)]
    if name not in names:
        fail(f"unknown preset {short_repr(preset)} (choose {', '.join(f'{family}:{n}' for n in names)})")
    return family, name


def _parse_knobs(knobs, family: str, fail) -> tuple[tuple[str, object], ...]:
    if not isinstance(knobs, dict):
        fail(f"knobs must be an object like {{\"lr\": 0.001}}, got {_kind(knobs)}")
    allowed = [f.name for f in FAMILY_CONFIGS[family].knobs()]
    for key in knobs:
        if key not in allowed:
            fail(f"knobs: {short_repr(key)} is not a {family} setting (choose {', '.join(allowed)})")
    return tuple(knobs.items())
