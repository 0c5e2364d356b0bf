"""One module per family view, behind the contract in base.py."""
from __future__ import annotations

from .base import FamilyView


def make_view(family: str) -> FamilyView:
    """The family's view: the VAE latent lab, or the GAN's, the diffusion or the autoregressive view."""
    if family == "vae":
        from .vae import VAELab
        return VAELab(family)
    if family == "gan":
        from .gan import GANView
        return GANView(family)
    if family == "ar":
        from .autoregressive import ARView
        return ARView(family)
    if family == "diffusion":
        from .diffusion import DiffusionView
        return DiffusionView(family)
    return FamilyView(family)
