"""A run folder on disk: config.json + model.safetensors. Loading never runs code from the files."""
from __future__ import annotations

import json
import os
from dataclasses import replace

import torch
from safetensors.torch import load_file, save_file

from .. import data as data_sets
from ..config import ConfigError, Experiment
from ..models import GenerativeModel, build_model
from ..storage import atomic_path, write_text

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


AVERAGE_PREFIX = "average."  # the transformer's weight average (kept outside its state dict), in its parameters' order


def save_weights(model: GenerativeModel, path: str) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    own = model.own_average() if hasattr(model, "own_average") else None
    if own is not None:
        tensors.update({f"{AVERAGE_PREFIX}{i}": a.detach().cpu().contiguous() for i, a in enumerate(own[0])})
    with atomic_path(path) as tmp:
        save_file(tensors, tmp)


def save_config(exp: Experiment, folder: str) -> None:
    write_text(os.path.join(folder, CONFIG_FILE), exp.to_json() + "\n")


def load_run(folder: str, device: torch.device) -> tuple[Experiment, GenerativeModel, data_sets.Dataset]:
    """(experiment, model with its trained weights, data set) from a run folder or an experiment file.
    Raises ConfigError (or the importers' DataError for a data file that is gone) with a clear message."""
    if os.path.isfile(folder):
        from .experiment_file import load
        from .trainer import Trainer
        doc = load(folder)
        try:
            trainer = Trainer(replace(doc.experiment, device=device.type), dataset=doc.dataset, state=doc.state)
        except ValueError as exc:
            raise exc if isinstance(exc, ConfigError) else ConfigError(f"{os.path.basename(folder)}: {exc}") from None
        return doc.experiment, trainer.model.eval(), trainer.dataset
    config_path = os.path.join(folder, CONFIG_FILE)
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    for path in (config_path, weights_path):
        if not os.path.isfile(path):
            raise ConfigError(f"{folder}: not a training run (missing {os.path.basename(path)})")
    try:
        with open(config_path, encoding="utf-8") as fh:
            exp = Experiment.from_dict(json.load(fh))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{config_path}: unreadable config ({exc})") from None
    ds = data_sets.load(exp.data, exp.data_size, exp.data_color)
    model = build_model(exp, ds)
    try:
        tensors = load_file(weights_path)
        average = [tensors.pop(f"{AVERAGE_PREFIX}{i}")
                   for i in range(sum(k.startswith(AVERAGE_PREFIX) for k in tensors))]
        model.load_state_dict(tensors)
        if average:
            model.load_own_average(average, updates=0)  # the count only shapes the average's warm-up
    except Exception as exc:  # safetensors parses only tensors; any failure is a bad file, not code
        raise ConfigError(f"{weights_path}: cannot load weights ({str(exc).splitlines()[0]})") from None
    return exp, model.to(device).eval(), ds
