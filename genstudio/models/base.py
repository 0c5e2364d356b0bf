"""What every family shares: the data spec, the training-step contract, weight averaging."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import CLASS_ROW, CLASS_ROWS_MAX, ConfigError
from ..data import Dataset


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data, derived from the data set alone."""
    kind: str                      # points | image | text
    shape: tuple[int, ...]         # (2,) or (C, H, W); text: (max_len,)
    levels: int = 0
    alphabet: str = ""
    classes: int = 0               # labelled sets: how many classes

    @classmethod
    def of(cls, ds: Dataset) -> "DataSpec":
        classes = max(len(ds.label_names), int(ds.labels.max()) + 1) if ds.labels is not None and len(ds.labels) else 0
        if ds.kind == "points":
            return cls("points", (2,), classes=classes)
        if ds.kind == "image":
            return cls("image", ds.image_shape, levels=ds.levels, classes=classes)
        longest = max(len(w) for w in ds.words + ds.held_out_words)
        return cls("text", (longest + 1,), alphabet=ds.alphabet)

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))


class GenerativeModel(nn.Module):
    """One family's networks and optimisers.

    The engine calls `train_step(draw)`, where draw() returns a fresh batch in model space, and gets back a detached
    1-D tensor of loss terms named by `loss_names`, still on the device (no host sync). `sample(noise)` maps fixed
    noise from `make_noise` to examples in the model's space; `decode` turns those into data space.
    """

    loss_names: tuple[str, ...] = ("loss",)
    supported_kinds: tuple[str, ...] = ("points", "image")

    def __init__(self, cfg, spec: DataSpec):
        super().__init__()
        self.cfg = cfg
        self.spec = spec
        if getattr(cfg, "condition", "none") == "class" and not spec.classes:
            raise ConfigError("condition=class needs a data set with labels (this one has none)")
        # a class-conditional model: how many classes (draw() then returns (x, labels)); 0: unconditional
        self.classes = spec.classes if cfg.conditional(spec.classes > 0) else 0

    # data space <-> model space ------------------------------------------------------------
    def encode_data(self, ds: Dataset, split: str = "train") -> torch.Tensor:
        """The training (or held-out) examples as one tensor in model space."""
        x = ds.x if split == "train" else ds.held_out
        if ds.kind == "points":
            return torch.from_numpy(ds.standardise(x))
        return torch.from_numpy(x * 2 - 1)  # images in [-1, 1]

    def decode(self, samples: torch.Tensor, ds: Dataset):
        x = samples.detach().float().cpu().numpy()
        if ds.kind == "points":
            return ds.unstandardise(x)
        return np.clip((x + 1) / 2, 0, 1)

    # the contract ----------------------------------------------------------------------------
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Build the optimisers (nanoGPT's shape). The trainer calls this once the model is on its
        device; a model that only samples (the explorer's replica) never does, and costs only its weights."""
        self._optimizers = self.make_optimizers()
        return self._optimizers

    def make_optimizers(self) -> list[torch.optim.Optimizer]:
        raise NotImplementedError

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimisers built by configure_optimizers (none before)."""
        return getattr(self, "_optimizers", [])

    def set_lr(self, lr: float) -> None:
        for opt in self.optimizers():
            for group in opt.param_groups:
                group["lr"] = lr

    def train_step(self, draw) -> torch.Tensor:
        raise NotImplementedError

    def split(self, batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A drawn batch as (examples, labels); labels None for an unconditional model."""
        return batch if isinstance(batch, tuple) else (batch, None)

    def drop_labels(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """`y` with a `label_dropout` share of its labels replaced by "no class" (index `classes`): the
        same network also learns to generate unconditionally, what classifier-free guidance needs."""
        drop = torch.rand(y.shape, device=y.device, generator=generator) < self.cfg.label_dropout
        return torch.where(drop, torch.full_like(y, self.classes), y)

    def sample_labels(self, n: int, device=None) -> torch.Tensor:
        """The classes asked for when none are given: as many of each, in order (0, 0, ..., 1, 1, ...)."""
        return torch.arange(n, device=device) * max(self.classes, 1) // max(n, 1)

    def snapshot_size(self, wanted: int) -> int:
        """How many samples a snapshot shows: `wanted`, or for a conditional model of a few classes a
        row per class."""
        return CLASS_ROW * self.classes if 0 < self.classes <= CLASS_ROWS_MAX else wanted

    def partial_step(self, part: str, draw) -> torch.Tensor:
        """One step of part of the model ("d" / "g" for a GAN); other families do a whole step."""
        return self.train_step(draw)

    def explorer_state(self) -> dict[str, torch.Tensor]:
        """The tensors the explorer's replica needs (the networks that encode and sample)."""
        return self.state_dict()

    def make_noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def sample(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Examples for `noise` (a conditional model's of classes `labels`; None: the classes in turn)."""
        raise NotImplementedError

    def nll(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor | None:
        """Per-example negative log-likelihood (or its ELBO bound) in nats, given each example's class
        (`labels`) for a conditional model; None when not defined."""
        return None

    # What the held-out curve measures (engine/trainer.py measure_held_out): the training objective on
    # a fixed set of items, in eval mode with fixed noise. `ranks_weights`: a lower value means a better
    # model, so the run keeps the weights where it was lowest.
    held_out_name: str | None = None
    ranks_weights: bool = True

    def held_out_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, int] | None:
        """(sum of the objective's terms over `batch`, number of terms); None when not defined."""
        return None

    def probe(self, dataset) -> dict | None:
        """What the timeline keeps of the model itself at a snapshot (small numpy arrays); None: nothing."""
        return None


class WeightAverage(nn.Module):
    """Exponential moving average of a module's weights, used for sampling (decay 0 = a live view)."""

    def __init__(self, module: nn.Module, decay: float):
        super().__init__()
        self.decay = decay
        self.live = [module]  # a list so the live module is not registered twice
        self.average = copy.deepcopy(module).requires_grad_(False) if decay > 0 else None
        self.updates = 0

    @staticmethod
    def decay_at(decay: float, updates: int) -> float:
        """The decay of the `updates`-th update. Warm-up: early on the average would otherwise
        remember the random initialisation."""
        return min(decay, (1 + updates) / (10 + updates))

    @torch.no_grad()
    def update(self) -> None:
        if self.average is None:
            return
        self.updates += 1
        decay = self.decay_at(self.decay, self.updates)
        src = list(self.live[0].parameters())
        dst = list(self.average.parameters())
        torch._foreach_lerp_(dst, src, 1 - decay)
        for b_avg, b in zip(self.average.buffers(), self.live[0].buffers()):
            b_avg.copy_(b)

    @property
    def module(self) -> nn.Module:
        return self.average if self.average is not None else self.live[0]


def make_optimizer(cls: type[torch.optim.Optimizer], params, lr: float, **kwargs) -> torch.optim.Optimizer:
    """`cls` (Adam, AdamW) with its fused implementation: one kernel over all the parameters instead
    of about ten per tensor, worth 10-18% more steps/s for the small models on a CPU. Falls back to
    the default implementation where this torch has no fused kernel for the parameters' device."""
    params = list(params)
    try:
        return cls(params, lr, fused=True, **kwargs)
    except (RuntimeError, ValueError, TypeError):
        return cls(params, lr, **kwargs)


def mlp(dims: list[int], act=nn.SiLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(act())
    return nn.Sequential(*layers)
