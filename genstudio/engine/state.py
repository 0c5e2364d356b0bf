"""A trainer's full state as CPU tensors plus JSON: weights, optimiser moments, weight-average
counters, RNG streams, step and time. Flat, so safetensors can hold it (no pickle anywhere)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.base import WeightAverage

IMPLEMENTATION_KEYS = ("fused", "foreach", "capturable", "differentiable")


@dataclass(frozen=True)
class TrainerState:
    step: int
    seconds: float
    tensors: dict[str, torch.Tensor]   # CPU copies: model.*, optim.<i>.*, rng.*
    meta: dict                         # JSON-able: optimiser hyperparameters and scalars, counters


def capture(model: torch.nn.Module, optimizers, batch_gen: torch.Generator, device: torch.device,
            step: int, seconds: float) -> TrainerState:
    tensors = {f"model.{k}": v.detach().cpu().clone() for k, v in model.state_dict().items()}
    optim_meta = []
    for i, opt in enumerate(optimizers):
        sd = opt.state_dict()
        scalars: dict[str, dict] = {}
        for pid, values in sd["state"].items():
            for name, value in values.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{i}.{pid}.{name}"] = value.detach().cpu().clone()
                else:
                    scalars.setdefault(str(pid), {})[name] = value
        optim_meta.append({"param_groups": sd["param_groups"], "scalars": scalars})
    tensors["rng.cpu"] = torch.get_rng_state()
    tensors["rng.batch"] = batch_gen.get_state()
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
    averages = [m.updates for m in model.modules() if isinstance(m, WeightAverage)]
    meta = {"optimizers": optim_meta, "average_updates": averages}
    own = getattr(model, "own_average", None)  # a weight average kept outside the state dict (the transformer's)
    if own is not None and own() is not None:
        average, updates = own()
        tensors.update({f"average.{i}": a.detach().cpu().clone() for i, a in enumerate(average)})
        meta["own_average_updates"] = updates
    return TrainerState(step, seconds, tensors, meta)


def restore(state: TrainerState, model: torch.nn.Module, optimizers, batch_gen: torch.Generator,
            device: torch.device) -> None:
    """Load a captured state into freshly built objects of the same experiment. Raises ValueError
    (with a short reason) when the state does not fit them."""
    t = state.tensors
    weights = {k[len("model."):]: v for k, v in t.items() if k.startswith("model.")}
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(weights)), sorted(set(weights) - expected)
    if missing or unexpected:
        raise ValueError(f"the weights do not fit this model ({len(missing)} missing, {len(unexpected)} unexpected, "
                         f"e.g. {(missing or unexpected)[0]!r})")
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:  # shapes differ: the second line names the first tensor
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ValueError(f"the weights do not fit this model ({lines[min(1, len(lines) - 1)]})") from None
    optim_meta = state.meta.get("optimizers", [])
    if len(optim_meta) != len(optimizers):
        raise ValueError(f"{len(optim_meta)} optimiser states for {len(optimizers)} optimisers")
    for i, (opt, meta) in enumerate(zip(optimizers, optim_meta)):
        per_param: dict[int, dict] = {}
        for pid, values in meta.get("scalars", {}).items():
            per_param.setdefault(int(pid), {}).update(values)
        prefix = f"optim.{i}."
        for key, value in t.items():
            if key.startswith(prefix):
                pid, name = key[len(prefix):].split(".", 1)
                per_param.setdefault(int(pid), {})[name] = value
        # how this machine's torch runs the optimiser (fused, foreach...) is not the file's to decide
        groups = [{**saved, **{k: fresh[k] for k in IMPLEMENTATION_KEYS if k in fresh}}
                  for saved, fresh in zip(meta["param_groups"], opt.param_groups)]
        try:
            opt.load_state_dict({"state": per_param, "param_groups": groups})
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"optimiser {i} state does not fit ({exc})") from None
    averages = [m for m in model.modules() if isinstance(m, WeightAverage)]
    for avg, updates in zip(averages, state.meta.get("average_updates", [])):
        avg.updates = int(updates)
    if "own_average_updates" in state.meta and hasattr(model, "load_own_average"):
        count = sum(key.startswith("average.") for key in t)
        model.load_own_average([t[f"average.{i}"] for i in range(count)], int(state.meta["own_average_updates"]))
    torch.set_rng_state(t["rng.cpu"])
    batch_gen.set_state(t["rng.batch"])
    if device.type == "cuda" and "rng.cuda" in t:
        torch.cuda.set_rng_state(t["rng.cuda"], device)
