"""Guided lessons: the built-in ones load and build, wait conditions, and every malformed file is
refused with one line naming the file and the problem."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest

import genstudio
from genstudio.config import LESSON_PRESETS, Experiment, lesson_preset
from genstudio.lessons import (
    HEAD_PATTERNS,
    KIND_METRICS,
    METRICS,
    VIEW_PAGES,
    LessonError,
    LessonStep,
    builtin_lessons,
    data_kind,
    load_lesson,
    reported_metrics,
)

TITLES = ["A GAN on a ring: what the discriminator sees", "Mode collapse, and how it looks", "A VAE's latent space",
          "Diffusion: from noise to data, step by step", "Next-token prediction, one character at a time",
          "What a transformer looks at", "Overfitting: when the held-out curve turns up",
          "Guidance: asking for a class, and what it costs", "Flow matching against DDPM: straight paths, fewer steps"]
VIEW_FILES = {"gan": "gan.py", "vae": "vae.py", "diffusion": "diffusion.py", "ar": "autoregressive.py"}


def test_builtin_lessons_load_in_teaching_order():
    lessons = builtin_lessons()
    assert [lesson.title for lesson in lessons] == TITLES
    for lesson in lessons:
        assert 3 <= len(lesson.steps) <= 5, lesson.title
        assert os.path.basename(lesson.path)[0] in "123456789"


@pytest.mark.parametrize("lesson", builtin_lessons(), ids=lambda lesson: os.path.basename(lesson.path))
def test_every_builtin_step_builds_its_experiment(lesson):
    for step in lesson.steps:
        exp = step.experiment(device="cpu")
        assert isinstance(exp, Experiment) and exp.model == step.family and exp.device == "cpu"
        assert exp.data == (step.data or lesson_preset(step.family, step.preset).data)


def test_view_pages_match_the_views():
    """VIEW_PAGES is a copy of the views' tab titles: read them from the sources (no Qt import)."""
    folder = os.path.join(os.path.dirname(genstudio.__file__), "ui", "views")
    for family, filename in VIEW_FILES.items():
        with open(os.path.join(folder, filename), encoding="utf-8") as f:
            titles = re.findall(r'self\.pages\.addTab\([^,]+,\s*"([^"]+)"\)', f.read())
        assert tuple(titles) == VIEW_PAGES[family], family


@pytest.mark.parametrize("family,preset", [("gan", "ring"), ("vae", "latent-2d"), ("diffusion", "swissroll"),
                                           ("diffusion", "digits"), ("ar", "names")])
def test_metrics_match_what_evaluation_reports(family, preset):
    """One preset per kind of data (mixture, image, points, text): METRICS names what evaluate() reports."""
    from genstudio.engine.trainer import Cadence, Trainer

    exp = small(LessonStep("t", family, preset, "samples").experiment(device="cpu", threads=1))
    values = Trainer(exp, Cadence(snapshot_s=None)).evaluate().values
    scalars = {k for k, v in values.items() if not isinstance(v, list)} - {"modes_total", "class_total"}
    assert scalars == set(reported_metrics(family, exp.data))
    assert scalars <= set(METRICS[family])


def small(exp):
    """A narrow network: the metrics reported do not depend on its size."""
    knobs = {"n_embd": 16, "n_layer": 1, "n_head": 2} if exp.model == "ar" else {"width": 16}
    return dataclasses.replace(exp, family=dataclasses.replace(exp.family, **knobs))


def test_data_kinds_match_the_data_sets():
    from genstudio.data import load

    for _family, presets in LESSON_PRESETS.items():
        for _, _, data, _ in presets:
            if data in ("mnist", "fashion-mnist"):
                continue  # downloaded: not in a test
            ds = load(data)
            expected = "mixture" if ds.kind == "points" and ds.modes is not None else ds.kind
            assert data_kind(data) == expected, data
    assert set(KIND_METRICS) == {"mixture", "points", "image", "text"}


def test_wait_conditions():
    free = LessonStep("t", "gan", "ring", "samples")
    assert free.reached(0, {}) and free.wait_text() == ""

    by_step = LessonStep("t", "gan", "ring", "samples", wait_step=300)
    assert not by_step.reached(299, {"modes_captured": 8})
    assert by_step.reached(300, {}) and by_step.reached(5000, {})
    assert by_step.wait_text() == "train to step 300"

    at_least = LessonStep("t", "gan", "ring", "samples", wait_metric="modes_captured", wait_at_least=6)
    assert not at_least.reached(10_000, {})                      # no evaluation yet
    assert not at_least.reached(10, {"modes_captured": 5, "hq_fraction": 0.9})
    assert at_least.reached(10, {"modes_captured": 6}) and at_least.reached(10, {"modes_captured": 8})
    assert not at_least.reached(10, {"modes_captured": float("nan")})
    assert at_least.wait_text() == "train until modes_captured >= 6"

    at_most = LessonStep("t", "ar", "names", "samples", wait_metric="nats_per_char", wait_at_most=2.3)
    assert not at_most.reached(1, {"nats_per_char": 2.31})
    assert at_most.reached(1, {"nats_per_char": 2.3}) and at_most.reached(1, {"nats_per_char": 1.9})
    assert at_most.wait_text() == "train until nats_per_char <= 2.3"


def test_head_waits():
    from genstudio.engine.attention import PATTERNS

    assert set(HEAD_PATTERNS) == set(PATTERNS)
    head = LessonStep("t", "ar", "names", "family", wait_head="previous", wait_at_least=0.6)
    assert not head.reached(10_000, {}) and not head.reached(10_000, {}, {})      # no snapshot yet
    assert not head.reached(1, {}, {"previous": 0.59, "first": 0.9})
    assert head.reached(1, {}, {"previous": 0.6})
    assert head.wait_text() == "train until a head puts 60% of its attention on one position back"


def test_past_best_waits():
    step = LessonStep("t", "ar", "names-overfit", "curves", wait_past_best=1000)
    assert not step.reached(50_000, {}) and not step.reached(50_000, {}, None, None)   # no held-out curve yet
    assert not step.reached(1999, {}, None, 1000) and step.reached(2000, {}, None, 1000)
    assert step.wait_text() == "train until the best held-out step is 1,000 steps behind"


def test_loaded_wait_fields(tmp_path):
    path = write(tmp_path, "ok.json", lesson(
        step(wait={"step": 300}),
        step(preset="ar:names", view="family", page="Loss", wait={"metric": "nats_per_char", "at_most": 2}),
        step(wait={"metric": "modes_captured", "at_least": 6}),
        step(preset="ar:names", wait={"head": "self", "at_least": 1})))
    first, second, third, fourth = load_lesson(path).steps
    assert (fourth.wait_head, fourth.wait_at_least) == ("self", 1.0)
    assert (first.wait_step, first.page, first.family, first.preset) == (300, None, "gan", "ring")
    assert (second.family, second.preset, second.page, second.wait_metric, second.wait_at_most) == \
        ("ar", "names", "Loss", "nats_per_char", 2.0)
    assert third.reached(1, {"modes_captured": 7}) and not third.reached(1, {"modes_captured": 2})


def test_a_step_sets_its_own_data_and_knobs_on_a_named_preset(tmp_path):
    path = write(tmp_path, "own.json", lesson(
        step(preset="gan:mode-collapse", data="grid25", knobs={"lr": 0.001, "width": 48}),
        step(preset="gan:1")))   # a file from before presets had names: the same preset
    own, indexed = load_lesson(path).steps
    exp = own.experiment(device="cpu")
    assert (exp.data, exp.family.lr, exp.family.width, exp.family.beta1) == ("grid25", 0.001, 48, 0.9)
    assert indexed.preset == "mode-collapse" and indexed.experiment().data == "ring8"


def test_preset_names_are_unique_and_ordered_as_before():
    """Lesson files name presets; files written earlier give their position: both must keep meaning."""
    assert [p.name for p in LESSON_PRESETS["gan"]] == ["ring", "mode-collapse", "never-settles"]
    assert [p.name for p in LESSON_PRESETS["ar"]][:3] == ["digits", "mnist", "names"]
    for presets in LESSON_PRESETS.values():
        assert len({p.name for p in presets}) == len(presets)


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(lesson(step())).encode())
    assert load_lesson(path).title == "T"


# malformed lessons ---------------------------------------------------------------------------------

def step(**fields):
    return {"text": "Watch the points.", "preset": "gan:ring", "view": "samples", **fields}


def lesson(*steps, **fields):
    return {"format": 1, "title": "T", "steps": list(steps), **fields}


def write(tmp_path, name, doc) -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


BAD = {
    "bad JSON": ('{"format": 1,\n  "title": "T",\n  "steps": [}', "not valid JSON", "line 3, column"),
    "top level list": ([1, 2], "expected a JSON object"),
    "missing title": ({"format": 1, "steps": [step()]}, "missing 'title'"),
    "empty title": (lesson(step(), title="  "), "title must be a non-empty string"),
    "title a number": (lesson(step(), title=7), "title must be a non-empty string"),
    "format 2": (lesson(step(), format=2), "format 2 is not supported"),
    "format true": (lesson(step(), format=True), "format True is not supported"),
    "empty steps": (lesson(), "steps must be a non-empty list"),
    "steps an object": (lesson(steps={"a": 1}), "steps must be a non-empty list"),
    "unknown top key": (lesson(step(), author="me"), "unknown key 'author'"),
    "unknown step key": (lesson(step(), step(pgae="Quality")), "step 2: unknown key 'pgae'"),
    "step a string": (lesson("hello"), "step 1: expected an object"),
    "missing text": (lesson({"preset": "gan:ring", "view": "samples"}), "step 1: missing 'text'"),
    "empty text": (lesson(step(text=" ")), "step 1: text must be a non-empty string"),
    "text a list": (lesson(step(text=["a"])), "step 1: text must be a non-empty string"),
    "text too long": (lesson(step(text="x" * 601)), "step 1: text is 601 characters long (at most 600)"),
    "unknown preset": (lesson(step(), step(preset="gan:9")),
                       "step 2: unknown preset 'gan:9' (choose gan:ring, gan:mode-collapse, gan:never-settles)"),
    "unknown preset name": (lesson(step(preset="gan:rign")), "step 1: unknown preset 'gan:rign' (choose gan:ring,"),
    "unknown family": (lesson(step(preset="flow:0")), "step 1: unknown family 'flow'"),
    "preset a number": (lesson(step(preset=0)), "step 1: preset must be a string \"FAMILY:NAME\""),
    "negative preset": (lesson(step(preset="vae:-1")), "step 1: unknown preset 'vae:-1' (choose vae:latent-2d,"),
    "unknown data": (lesson(step(data="cifar")), "step 1: unknown data set 'cifar' for gan (choose ring8,"),
    "text for a GAN": (lesson(step(data="names")), "step 1: unknown data set 'names' for gan"),
    "data a path": (lesson(step(data="/etc/passwd")), "step 1: unknown data set '/etc/passwd'"),
    "knobs a list": (lesson(step(knobs=[1])), "step 1: knobs must be an object"),
    "unknown knob": (lesson(step(knobs={"width": 64, "lerning_rate": 1})),
                     "step 1: knobs: 'lerning_rate' is not a gan setting (choose"),
    "knob out of range": (lesson(step(knobs={"lr": -1})), "step 1: knobs: lr=-1"),
    "knob of the wrong type": (lesson(step(knobs={"width": "wide"})), "step 1: knobs: width='wide': expected int"),
    "metric the step's data lacks": (lesson(step(data="moons", wait={"metric": "modes_captured", "at_least": 8})),
                                     "metric 'modes_captured' is not measured on moons"),
    "bad view": (lesson(step(view="plane")), "step 1: unknown view 'plane' (choose samples, family, curves)"),
    "bad page": (lesson(step(view="family", page="Plane")), "step 1: unknown page 'Plane' for gan"),
    "page of another family": (lesson(step(preset="vae:0", view="family", page="Denoise")),
                               "step 1: unknown page 'Denoise' for vae"),
    "page without family view": (lesson(step(page="Quality")), "step 1: page 'Quality' needs view \"family\""),
    "unknown metric": (lesson(step(wait={"metric": "accuracy", "at_least": 1})),
                       "step 1: unknown metric 'accuracy' for gan"),
    "metric of another data set": (lesson(step(preset="vae:0", wait={"metric": "modes_captured", "at_least": 8})),
                                   "step 1: metric 'modes_captured' is not measured on digits"),
    "likelihood of a GAN": (lesson(step(wait={"metric": "nll_nats", "at_most": 1})), "unknown metric 'nll_nats'"),
    "two bounds": (lesson(step(wait={"metric": "hq_fraction", "at_least": 0.1, "at_most": 0.9})), "needs one bound"),
    "no bound": (lesson(step(wait={"metric": "hq_fraction"})), "needs one bound"),
    "bound a string": (lesson(step(wait={"metric": "hq_fraction", "at_least": "0.5"})),
                       "wait bound must be a number, got '0.5'"),
    "wait step a string": (lesson(step(wait={"step": "300"})), "step 1: wait step must be a whole number from 1"),
    "wait step zero": (lesson(step(wait={"step": 0})), "wait step must be a whole number from 1", "got 0"),
    # each of these once ended in a traceback
    "preset index a superscript": (lesson(step(preset="gan:²")), "step 1: unknown preset 'gan:²'"),
    "a 401-digit bound": (lesson(step(wait={"metric": "hq_fraction", "at_least": 10**400})),
                          "wait bound must be a number, got 1000000000"),
    "a 5000-digit integer": ('{"format": 1, "title": "T", "steps": [], "x": ' + "9" * 5000 + "}",
                             "a number with too many digits"),
    "a wait step past any run": (lesson(step(wait={"step": 10**30})), "wait step must be a whole number from 1"),
    "wait step and metric": (lesson(step(wait={"step": 3, "metric": "hq_fraction"})), "wait: unknown key 'metric'"),
    "wait unknown key": (lesson(step(wait={"until": 3})),
                         "step 1: wait needs \"step\", \"metric\", \"head\" or \"past_best\""),
    "past-best wait on a GAN": (lesson(step(wait={"past_best": 500})), "not gan:"),
    "past-best wait of no steps": (lesson(step(preset="ar:names-overfit", wait={"past_best": 0})),
                                   "wait past_best must be a whole number of steps from 1"),
    "past-best wait with a bound": (lesson(step(preset="ar:names-overfit", wait={"past_best": 5, "at_least": 1})),
                                    "wait: unknown key 'at_least'"),
    "head wait on a GAN": (lesson(step(wait={"head": "previous", "at_least": 0.5})), "needs a transformer preset"),
    "unknown head pattern": (lesson(step(preset="ar:names", wait={"head": "induction", "at_least": 0.5})),
                             "unknown head pattern 'induction' (choose previous, first, self)"),
    "head share over 1": (lesson(step(preset="ar:names", wait={"head": "first", "at_least": 50})),
                          "wait at_least must be a share from 0 to 1, got 50"),
    "head wait without a share": (lesson(step(preset="ar:names", wait={"head": "first"})), "wait: missing 'at_least'"),
    "wait a number": (lesson(step(wait=300)), "step 1: wait must be an object"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_lessons_are_refused_with_one_clear_line(tmp_path, case):
    doc, *fragments = BAD[case]
    path = write(tmp_path, "ring.json", doc)
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    message = str(info.value)
    assert message.startswith("ring.json: ") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_bad_json_names_line_and_column(tmp_path):
    path = write(tmp_path, "ring.json", '{"format": 1,\n  "title": "T",\n  "steps": [}')
    with pytest.raises(LessonError, match=r"^ring\.json: not valid JSON: .* at line 3, column 13$"):
        load_lesson(path)


def test_unreadable_files_are_refused(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes(json.dumps(lesson(step(text="caf\u00e9")), ensure_ascii=False).encode("latin-1"))
    with pytest.raises(LessonError, match=r"^latin\.json: not UTF-8 text"):
        load_lesson(latin)
    folder = tmp_path / "lessons"
    folder.mkdir()
    with pytest.raises(LessonError, match=r"^lessons: is a folder, not a lesson file$"):
        load_lesson(folder)
    with pytest.raises(LessonError, match=r"^gone\.json: no such file$"):
        load_lesson(tmp_path / "gone.json")
    big = tmp_path / "big.json"
    big.write_text(json.dumps(lesson(step(), pad="x" * 1_000_001)))
    with pytest.raises(LessonError, match=r"^big\.json: larger than 1 MB"):
        load_lesson(big)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(LessonError, match=r"^deep\.json: not valid JSON"):
        load_lesson(deep)


def test_lessons_module_imports_neither_qt_nor_torch():
    script = ("import sys, genstudio.lessons\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('torch', 'PySide6', 'shiboken6', 'pyqtgraph', 'superqt')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
