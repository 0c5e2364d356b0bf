"""The four generative families, one file each. No Qt here."""
from __future__ import annotations

from ..config import ConfigError, Experiment
from ..data import Dataset
from .autoregressive import RowTransformer, Transformer, uses_rows
from .base import DataSpec, GenerativeModel
from .diffusion import Diffusion
from .gan import GAN
from .vae import VAE

FAMILY_MODELS: dict[str, type[GenerativeModel]] = {"gan": GAN, "vae": VAE, "diffusion": Diffusion, "ar": Transformer}


def build_model(exp: Experiment, ds: Dataset) -> GenerativeModel:
    cls = FAMILY_MODELS[exp.model]
    if ds.kind not in cls.supported_kinds:
        raise ConfigError(f"model {exp.model!r} cannot train on {ds.kind} data ({ds.name}); "
                          f"it takes {' or '.join(cls.supported_kinds)} data")
    spec = DataSpec.of(ds)
    if cls is Transformer and uses_rows(spec):
        cls = RowTransformer
    return cls(exp.family, spec)
