"""One module per family view, behind the contract in base.py."""
from __future__ import annotations

from .base import FamilyView


def make_view(family: str) -> FamilyView:
    """The family's view: the VAE latent lab, the GAN's view, the diffusion view, or the quality readout for families whose view is to come."""
    if family == "vae":
        from .vae import VAELab
        return VAELab(family)
    if family == "gan":
        from .gan import GANView
        return GANView(family)
    if family == "diffusion":
        from .diffusion import DiffusionView
        return DiffusionView(family)
    return FamilyView(family)
