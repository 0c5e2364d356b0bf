"""VAE (Kingma & Welling 2014): MLP encoder/decoder, Gaussian or Bernoulli likelihood, beta-weighted KL."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import VAEConfig
from ..data import Dataset
from .base import DataSpec, GenerativeModel, make_optimizer, mlp


class VAE(GenerativeModel):
    loss_names = ("loss", "recon", "kl")

    def __init__(self, cfg: VAEConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        self.likelihood = cfg.likelihood
        if self.likelihood == "auto":
            self.likelihood = "gaussian" if spec.kind == "points" else "bernoulli"
        # a conditional VAE: encoder and decoder both see the class (one-hot), so the code keeps the rest
        d, hidden = spec.dim, [cfg.width] * cfg.depth
        self.encoder = mlp([d + self.classes, *hidden, 2 * cfg.latent_dim])
        self.decoder = mlp([cfg.latent_dim + self.classes, *hidden, d])
        # Gaussian decoder: one learned log-std per dimension.
        self.log_sigma = nn.Parameter(torch.full((d,), -1.0))

    # images stay in [0, 1] for the Bernoulli likelihood
    def encode_data(self, ds: Dataset, split="train"):
        if ds.kind == "image":
            return torch.from_numpy(ds.x if split == "train" else ds.held_out)
        return super().encode_data(ds, split)

    def decode(self, samples, ds):
        if ds.kind == "image":
            return samples.detach().float().cpu().numpy().clip(0, 1)
        return super().decode(samples, ds)

    def make_optimizers(self):
        self.opt = make_optimizer(torch.optim.AdamW, self.parameters(), self.cfg.lr,
                                  weight_decay=self.cfg.weight_decay)
        return [self.opt]

    def with_class(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """`h` with the class as one-hot columns (a conditional model; y None: the classes in turn)."""
        if not self.classes:
            return h
        y = self.sample_labels(len(h), h.device) if y is None else y
        return torch.cat([h, F.one_hot(y.long(), self.classes).to(h.dtype)], 1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(self.with_class(x.flatten(1), y)).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def reparameterize(self, mu, logvar):
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp()

    def decode_mean(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean, shaped like the data (what the latent-space views show); a conditional
        model draws class y."""
        out = self.decoder(self.with_class(z, y))
        if self.likelihood == "bernoulli":
            out = torch.sigmoid(out)
        return out.view(-1, *self.spec.shape)

    def _log_px(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
        inv = (-self.log_sigma).exp()
        return (-0.5 * ((x - out) * inv) ** 2 - self.log_sigma - 0.5 * math.log(2 * math.pi)).sum(1)

    def terms(self, x, y=None):
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        recon = -self._log_px(self.decoder(self.with_class(z, y)), x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return recon, kl

    def train_step(self, draw):
        recon, kl = self.terms(*self.split(draw()))
        recon, kl = recon.mean(), kl.mean()
        loss = recon + self.cfg.beta * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return torch.stack([loss, recon, kl]).detach()

    def make_noise(self, n, generator):
        return torch.randn(n, self.cfg.latent_dim, generator=generator, device=generator.device)

    @torch.no_grad()
    def sample(self, noise, labels=None):
        mean = self.decode_mean(noise, labels)
        if self.likelihood == "gaussian":  # points: a real sample, not just the mean
            g = torch.Generator(noise.device).manual_seed(0)
            eps = torch.randn(mean.shape, generator=g, device=noise.device)
            mean = mean + eps * self.log_sigma.exp().view(-1, *self.spec.shape)
        return mean

    held_out_name = "loss (recon + beta x KL)"

    @torch.no_grad()
    def held_out_loss(self, batch, labels=None):
        recon, kl = self.terms(batch, labels)
        return (recon + self.cfg.beta * kl).sum(), len(batch)

    @torch.no_grad()
    def nll(self, batch, labels=None):
        recon, kl = self.terms(batch, labels)
        return recon + kl  # negative ELBO (beta = 1): an upper bound on -log p(x) (a conditional model: -log p(x | y))
