"""The experiment file (*.genstudio): config, weights, optimiser state, metric history, the snapshot
timeline, the past states the run can be forked from and, for imported data, the data itself, in
one safetensors file.

Safetensors holds only tensors and a JSON header, so opening a file never runs code from it: a
pickle, a truncated file or a file from a newer GenStudio gives one ExperimentFileError naming the
file and the problem. Saves are atomic (a temporary file, then a rename).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..config import MAX_STEPS, ConfigError, Experiment
from ..data import Dataset, looks_like_path
from ..storage import atomic_path
from .events import HeldOut, Metrics, Snapshot
from .state import TrainerState

FORMAT = "genstudio-experiment"
FILE_VERSION = 1
SUFFIX = ".genstudio"
HEADER_KEY = "genstudio"


class ExperimentFileError(ConfigError):
    """One line: the file and what is wrong with it."""


@dataclass(frozen=True)
class History:
    """The loss curves (one point per step, or thinned), the evaluated metrics and the held-out curve
    of a run."""
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: tuple[Metrics, ...] = ()
    held_out: tuple[HeldOut, ...] = ()


@dataclass(frozen=True)
class ExperimentFile:
    experiment: Experiment
    state: TrainerState
    history: History = History()
    timeline: tuple[Snapshot, ...] = ()     # samples only (no weights)
    dataset: Dataset | None = None          # embedded when the data came from the user's files
    fork_points: tuple[TrainerState, ...] = ()   # past whole states, oldest first (engine/fork_points.py)


# saving -----------------------------------------------------------------------------------------

def save(path: str, doc: ExperimentFile) -> None:
    tensors = {f"state.{k}": v.contiguous() for k, v in doc.state.tensors.items()}
    header = {"format": FORMAT, "version": FILE_VERSION, "experiment": doc.experiment.to_dict(),
              "step": doc.state.step, "seconds": doc.state.seconds, "state": doc.state.meta}
    h = doc.history
    tensors["history.steps"] = torch.from_numpy(np.asarray(h.steps, np.int64))
    tensors["history.seconds"] = torch.from_numpy(np.asarray(h.seconds, np.float64))
    for name, values in h.values.items():
        tensors[f"history.values.{name}"] = torch.from_numpy(np.asarray(values, np.float64))
    header["history"] = {"names": list(h.values),
                         "metrics": [{"step": m.step, "seconds": m.seconds, "values": m.values} for m in h.metrics],
                         "held_out": [[m.step, m.seconds, m.train, m.held_out, m.best_step] for m in h.held_out]}
    header["timeline"] = []
    for i, snap in enumerate(doc.timeline):
        entry = {"step": snap.step, "seconds": snap.seconds}
        if isinstance(snap.samples, np.ndarray):
            tensors[f"timeline.{i}"] = _pack_samples(snap.samples)
        else:
            entry["words"] = list(snap.samples)
        if snap.labels is not None:
            entry["labels"] = [int(v) for v in snap.labels]
        header["timeline"].append(entry)
    header["fork_points"] = []
    for i, kept in enumerate(doc.fork_points):
        tensors.update({f"fork.{i}.{k}": v for k, v in kept.tensors.items()})
        header["fork_points"].append({"step": kept.step, "seconds": kept.seconds, "state": kept.meta})
    if doc.dataset is not None:
        header["dataset"] = _pack_dataset(doc.dataset, tensors)
    metadata = {HEADER_KEY: json.dumps(header, default=_json_default)}
    with atomic_path(path) as tmp:
        save_file(_unshared(tensors), tmp, metadata=metadata)


def _unshared(tensors: dict) -> dict:
    """Contiguous tensors that share no memory (safetensors refuses shared ones, e.g. two timeline
    entries holding the same numpy array)."""
    seen, out = set(), {}
    for key, value in tensors.items():
        value = value.contiguous()
        storage = value.untyped_storage().data_ptr()
        if storage in seen:
            value = value.clone()
        elif value.numel():
            seen.add(storage)
        out[key] = value
    return out


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in an experiment file")


def _pack_samples(x: np.ndarray) -> torch.Tensor:
    if x.ndim == 4:  # images in [0, 1]: 8 bits are what the timeline shows
        return torch.from_numpy(np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8))
    return torch.from_numpy(np.ascontiguousarray(x, np.float32))


def _pack_dataset(ds: Dataset, tensors: dict) -> dict:
    for name in ("x", "held_out", "labels", "held_out_labels", "shift"):
        value = getattr(ds, name)
        if value is not None:
            if name in ("x", "held_out") and ds.kind == "image" and ds.levels == 256:
                value = np.rint(value * 255).astype(np.uint8)  # exact: imported images have 256 levels
            tensors[f"data.{name}"] = torch.from_numpy(np.ascontiguousarray(value))
    return {"name": ds.name, "kind": ds.kind, "label_names": list(ds.label_names), "levels": ds.levels,
            "scale": ds.scale, "words": list(ds.words), "held_out_words": list(ds.held_out_words),
            "alphabet": ds.alphabet, "source": ds.source, "key": ds.key}


HELD_OUT_COLUMNS = ("train_measure", "held_out_measure")


def history_csv(history: History) -> str:
    """The loss curves as CSV: step, seconds, one column per loss term; with a held-out curve, its two
    measures (the training items', the held-out items') on the first row at or after each measure's
    step, empty on the other rows."""
    names = list(history.values)
    extra = [""] * len(history.steps)
    for m in history.held_out:
        row = min(int(np.searchsorted(history.steps, m.step)), len(history.steps) - 1)
        if row >= 0:
            extra[row] = f",{m.train:.6g},{m.held_out:.6g}"
    columns = ["step", "seconds", *names, *(HELD_OUT_COLUMNS if history.held_out else ())]
    lines = [",".join(columns)]
    for i, step in enumerate(history.steps):
        values = ",".join(f"{history.values[n][i]:.6g}" for n in names)
        filler = extra[i] or ("," * len(HELD_OUT_COLUMNS) if history.held_out else "")
        lines.append(f"{int(step)},{history.seconds[i]:.3f}" + (f",{values}" if names else "") + filler)
    return "\n".join(lines) + "\n"


def embeds_data(exp: Experiment) -> bool:
    """User files travel inside the experiment file; built-in and downloadable sets do not."""
    return looks_like_path(exp.data)


# opening ----------------------------------------------------------------------------------------

def load(path: str) -> ExperimentFile:
    """The file's contents, checked to fit the model its experiment builds. Raises ExperimentFileError
    naming the file and the problem (or the importers' DataError for a downloadable set gone bad)."""
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise ExperimentFileError(f"{name}: no such file")
    if os.path.getsize(path) == 0:
        raise ExperimentFileError(f"{name}: the file is empty")
    try:
        with safe_open(path, framework="pt") as f:
            header_text = (f.metadata() or {}).get(HEADER_KEY)
            if header_text is None:
                raise ExperimentFileError(f"{name}: a safetensors file, but not a GenStudio experiment")
            header = json.loads(header_text)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except ExperimentFileError:
        raise
    except Exception as exc:  # safetensors parses a header and raw tensors only; anything else is a bad file
        raise ExperimentFileError(f"{name}: not a readable GenStudio experiment file ({_reason(exc)})") from None
    try:
        doc = _decode(header, tensors)
        _check_fits(doc)
        return doc
    except ConfigError as exc:  # ExperimentFileError included
        raise ExperimentFileError(f"{name}: {exc}") from None
    except ValueError as exc:
        raise ExperimentFileError(f"{name}: {exc}") from None
    except (KeyError, TypeError, IndexError, AttributeError, ArithmeticError) as exc:  # a part lacking or garbled
        raise ExperimentFileError(f"{name}: damaged experiment file ({type(exc).__name__}: {_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def _decode(header: dict, tensors: dict) -> ExperimentFile:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ExperimentFileError("not a GenStudio experiment file")
    version = header.get("version")
    if not isinstance(version, int) or version > FILE_VERSION:
        raise ExperimentFileError(f"written by a newer GenStudio (file version {version}; this one reads up to "
                                  f"{FILE_VERSION}): update GenStudio to open it")
    exp = Experiment.from_dict(header["experiment"])
    if not isinstance(header["state"], dict):
        raise ExperimentFileError("damaged experiment file (the state's description is not a dictionary)")
    state = TrainerState(_step(header["step"], "step"), _seconds(header["seconds"], "seconds"),
                         {k[len("state."):]: v for k, v in tensors.items() if k.startswith("state.")},
                         header["state"])
    hist = header.get("history", {})
    history = History(tensors["history.steps"].numpy(), tensors["history.seconds"].numpy(),
                      {n: tensors[f"history.values.{n}"].numpy() for n in _strings(hist.get("names", []), "names")},
                      tuple(_metrics(m) for m in hist.get("metrics", [])),
                      tuple(_held_out(m) for m in hist.get("held_out", [])))
    _check_history(history)
    timeline = []
    for i, entry in enumerate(header.get("timeline", [])):
        if "words" in entry:
            samples = _strings(entry["words"], "timeline words")
        else:
            t = tensors[f"timeline.{i}"]
            samples = t.numpy().astype(np.float32) / 255 if t.dtype == torch.uint8 else t.numpy()
        timeline.append(Snapshot(_step(entry["step"], "a timeline step"), _seconds(entry["seconds"], "a timeline time"),
                                 samples, labels=_labels(entry.get("labels"), len(samples))))
    dataset = _unpack_dataset(header["dataset"], tensors) if "dataset" in header else None
    if embeds_data(exp) and dataset is None:
        raise ExperimentFileError("the imported data is missing from the file")
    fork_points = []
    for i, entry in enumerate(header.get("fork_points", [])):
        prefix = f"fork.{i}."
        kept = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        weights = {k for k in kept if k.startswith("model.")}   # (no optimiser moments before the first step)
        if weights != {k for k in state.tensors if k.startswith("model.")}:
            raise ExperimentFileError(f"the kept state at step {entry['step']} does not match the run's weights")
        fork_points.append(TrainerState(_step(entry["step"], "a kept step"), _seconds(entry["seconds"], "a kept time"),
                                        kept, entry["state"]))
    return ExperimentFile(exp, state, history, tuple(timeline), dataset, tuple(fork_points))


# Every field of a file is checked for meaning and range before it is used: a file may come from anyone.
def _step(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_STEPS:
        raise ExperimentFileError(f"damaged experiment file ({what}: not a whole number from 0 to {MAX_STEPS:,})")
    return value


def _seconds(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e12:
        raise ExperimentFileError(f"damaged experiment file ({what}: not a number of seconds)")
    return float(value)


def _labels(values, count: int) -> np.ndarray | None:
    """A timeline entry's asked classes: None, or one small whole number per sample."""
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != count or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 100_000 for v in values):
        raise ExperimentFileError("damaged experiment file (a timeline's classes are not one whole number per sample)")
    return np.asarray(values, np.int64)


def _strings(values, what: str) -> list:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ExperimentFileError(f"damaged experiment file ({what} are not a list of texts)")
    return values


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300


def _metrics(entry) -> Metrics:
    values = entry["values"]
    if not isinstance(values, dict) or not all(
            isinstance(k, str) and (_number(v) or isinstance(v, list) and all(map(_number, v)))
            for k, v in values.items()):
        raise ExperimentFileError("damaged experiment file (an evaluation's values are not numbers by name)")
    return Metrics(_step(entry["step"], "an evaluation's step"), _seconds(entry["seconds"], "an evaluation's time"),
                   values)


def _held_out(entry) -> HeldOut:
    if not isinstance(entry, list) or len(entry) != 5 or not all(map(_number, entry[2:4])):
        raise ExperimentFileError("damaged experiment file (a held-out measure is not five numbers)")
    best = None if entry[4] is None else _step(entry[4], "a best step")
    return HeldOut(_step(entry[0], "a held-out step"), _seconds(entry[1], "a held-out time"),
                   float(entry[2]), float(entry[3]), best)


def _check_history(h: History) -> None:
    columns = [h.steps, h.seconds, *h.values.values()]
    if any(c.ndim != 1 or len(c) != len(h.steps) for c in columns):
        raise ExperimentFileError("damaged experiment file (the loss history's columns differ in length)")


def _check_fits(doc: ExperimentFile) -> None:
    """Load the state into a model built from the experiment, so a file that does not fit is refused
    before anything that is open is replaced (skipped for a downloadable set not yet downloaded)."""
    from .. import data
    from ..data.download import is_cached
    from ..models import build_model
    from .state import restore

    exp = doc.experiment
    if doc.dataset is None and exp.data in data.REMOTE_DATASETS and not is_cached(exp.data):
        return
    ds = doc.dataset or data.load(exp.data, exp.data_size, exp.data_color)
    model = build_model(exp, ds)
    with torch.random.fork_rng(devices=[]):
        try:
            restore(doc.state, model, model.configure_optimizers(), torch.Generator(), torch.device("cpu"))
        except (RuntimeError, KeyError) as exc:
            raise ValueError(f"the saved state does not fit ({_reason(exc)})") from None


def _unpack_dataset(meta: dict, tensors: dict) -> Dataset:
    arrays = {}
    for name in ("x", "held_out", "labels", "held_out_labels", "shift"):
        t = tensors.get(f"data.{name}")
        if t is not None:
            a = t.numpy()
            arrays[name] = a.astype(np.float32) / 255 if a.dtype == np.uint8 else a
    # the key names this data in the cache (its classifier): taken from the data itself, never from the file,
    # so a file can neither aim a path nor stand in for another data set
    digest = hashlib.sha1()
    for name in sorted(arrays):
        digest.update(f"{name}{arrays[name].dtype}{arrays[name].shape}".encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    digest.update(json.dumps([meta["label_names"], meta["words"], meta["held_out_words"]]).encode())
    return Dataset(str(meta["name"]), meta["kind"], label_names=tuple(_strings(meta["label_names"], "label names")),
                   levels=int(meta["levels"]), scale=float(meta["scale"]),
                   words=tuple(_strings(meta["words"], "words")),
                   held_out_words=tuple(_strings(meta["held_out_words"], "held-out words")),
                   alphabet=str(meta["alphabet"]), source=str(meta["source"]), key="file-" + digest.hexdigest()[:16],
                   **arrays)
