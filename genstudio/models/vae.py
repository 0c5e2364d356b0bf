"""VAE (Kingma & Welling 2014): MLP encoder/decoder, Gaussian or Bernoulli likelihood, beta-weighted KL;
samples' codes from N(0, I) or from a mixture of Gaussians fitted to the training codes (ex-post density
estimation, Ghosh et al. 2020)."""
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
        if cfg.prior == "fitted":
            self.prior = FittedPrior(max(self.classes, 1), cfg.latent_dim)

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
        """(reconstruction nats, KL nats, the codes' means) per example."""
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar)
        recon = -self._log_px(self.decoder(self.with_class(z, y)), x)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return recon, kl, mu

    def train_step(self, draw):
        x, y = self.split(draw())
        recon, kl, mu = self.terms(x, y)
        if self.cfg.prior == "fitted":
            self.prior.keep(mu.detach(), y)
        recon, kl = recon.mean(), kl.mean()
        loss = recon + self.cfg.beta * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return torch.stack([loss, recon, kl]).detach()

    def make_noise(self, n, generator):
        """Standard normal noise: the code itself (prior normal), or one column that picks the mixture's
        component and then the code's noise (prior fitted)."""
        extra = 1 if self.cfg.prior == "fitted" else 0
        return torch.randn(n, self.cfg.latent_dim + extra, generator=generator, device=generator.device)

    def codes(self, noise, labels=None):
        """The codes that `noise` stands for (a conditional model's for classes `labels`)."""
        if self.cfg.prior == "normal":
            return noise
        labels = self.sample_labels(len(noise), noise.device) if self.classes and labels is None else labels
        return self.prior.codes(noise, labels)

    def prior_gaussians(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prior samples' codes come from as Gaussians: (weights (groups, k), means (groups, k, d),
        covariances (groups, k, d, d)); a fitted prior has a group per class of a conditional model."""
        if self.cfg.prior == "normal":
            d = self.cfg.latent_dim
            return torch.ones(1, 1), torch.zeros(1, 1, d), torch.eye(d)[None, None]
        p = self.prior
        return p.log_weights.softmax(1), p.means, p.scale_tril @ p.scale_tril.transpose(-1, -2)

    @torch.no_grad()
    def sample(self, noise, labels=None):
        mean = self.decode_mean(self.codes(noise, labels), labels)
        if self.likelihood == "gaussian":  # points: a real sample, not just the mean
            g = torch.Generator(noise.device).manual_seed(0)
            eps = torch.randn(mean.shape, generator=g, device=noise.device)
            mean = mean + eps * self.log_sigma.exp().view(-1, *self.spec.shape)
        return mean

    held_out_name = "loss (recon + beta x KL)"

    @torch.no_grad()
    def held_out_loss(self, batch, labels=None):
        recon, kl, _ = self.terms(batch, labels)
        return (recon + self.cfg.beta * kl).sum(), len(batch)

    @torch.no_grad()
    def nll(self, batch, labels=None):
        recon, kl, _ = self.terms(batch, labels)
        return recon + kl  # negative ELBO (beta = 1): an upper bound on -log p(x) (a conditional model: -log p(x | y))


PRIOR_COMPONENTS = 10   # Gaussians in a fitted prior
PRIOR_CLASS_COMPONENTS = 3   # per class, in a conditional model's (each class's codes are alike)
PRIOR_CODES = 8192      # the most recent training codes it is fitted to
PRIOR_REFIT_CODES = 8 * PRIOR_CODES   # at most this many new codes between two fits
PRIOR_ITERATIONS = 20   # EM iterations of a fit
PRIOR_ITERATIONS_AT_ONCE = 2   # of which one sampling call runs (a fit spans ten snapshots; none waits long)
PRIOR_JITTER = 1e-3     # added to each covariance's diagonal: a component never collapses onto a point


class FittedPrior(nn.Module):
    """A mixture of Gaussians (full covariances) over the codes the encoder gives the training examples:
    where the VAE's samples take their codes. N(0, I) leaves holes between the classes' codes, where the
    decoder has seen no example and draws a blur; the fitted mixture follows the codes themselves.

    Training keeps the means of its latest codes (`keep`, on the device). A fit is due when training
    has doubled the codes seen since the last one (at least every PRIOR_REFIT_CODES): often while the
    codes spread out early on, then every few seconds. It starts afresh from a copy of the kept codes,
    and each sampling call runs a few of its EM iterations, so that no snapshot waits for a whole fit;
    the new mixture replaces the old when its fit ends. (EM started from the last fit followed the
    codes worse: FD 23-25 against 8-12 fitted afresh, on Kuzushiji-MNIST.)
    `groups`: one mixture per class of a conditional model, else one. Until its first fit it is N(0, I)."""

    def __init__(self, groups: int, latent_dim: int):
        super().__init__()
        self.components = k = PRIOR_COMPONENTS if groups == 1 else PRIOR_CLASS_COMPONENTS
        self.register_buffer("log_weights", torch.full((groups, k), -math.log(k)))
        self.register_buffer("means", torch.zeros(groups, k, latent_dim))
        self.register_buffer("scale_tril", torch.eye(latent_dim).repeat(groups, k, 1, 1))
        self.register_buffer("kept", torch.zeros(PRIOR_CODES, latent_dim), persistent=False)
        self.register_buffer("kept_labels", torch.zeros(PRIOR_CODES, dtype=torch.long), persistent=False)
        self._count = 0                          # codes kept since the weights were loaded (the ring's fill)
        self._next_fit = PRIOR_CODES // 8        # the count at which the next fit is due
        self._fitting = None                     # a fit under way: ({group: (codes, fit)}, iterations left)

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        # the kept codes were another state's: the loaded mixture holds until enough fresh ones come
        self._count, self._next_fit, self._fitting = 0, PRIOR_CODES // 8, None

    @torch.no_grad()
    def keep(self, mu: torch.Tensor, labels: torch.Tensor | None) -> None:
        n = min(len(mu), PRIOR_CODES)
        at = self._count % PRIOR_CODES
        first = min(n, PRIOR_CODES - at)   # the rest wraps round to the ring's start
        for into, fro, count in ((at, 0, first), (0, first, n - first)):
            if count:
                self.kept[into:into + count] = mu[fro:fro + count]
                if labels is not None:
                    self.kept_labels[into:into + count] = labels[fro:fro + count]
        self._count += n

    @torch.no_grad()
    def refit(self, iterations: int = PRIOR_ITERATIONS) -> None:
        """Go on with the fit by up to `iterations` EM iterations (a fit that is due starts first); when it
        has run them all, its mixture replaces the old one."""
        if self._fitting is None:
            if self._count < self._next_fit:
                return
            self._fitting = (self._start_fit(), PRIOR_ITERATIONS)
            self._next_fit = self._count + min(max(self._count, PRIOR_CODES // 8), PRIOR_REFIT_CODES)
        groups, left = self._fitting
        run = min(iterations, left)
        for g, (codes, fit) in groups.items():
            for _ in range(run):
                if fit is not None:   # (None: float32 rounding broke a covariance; the old fit stays)
                    fit = self._em_step(*fit, codes)
            groups[g] = codes, fit
        self._fitting = groups, left - run
        if left > run:
            return
        for g, (_, fit) in groups.items():
            if fit is not None:
                self.log_weights[g], self.means[g], self.scale_tril[g] = fit
        self._fitting = None

    def _start_fit(self) -> dict:
        """{group: (a copy of its kept codes, the starting fit)} for each group with enough codes: the
        components at codes spread through the ring, each with the codes' overall spread."""
        n = min(self._count, PRIOR_CODES)
        groups = {}
        for g in range(len(self.means)):
            codes = self.kept[:n].clone() if len(self.means) == 1 else self.kept[:n][self.kept_labels[:n] == g]
            if len(codes) < 4 * self.components:
                continue
            eye = torch.eye(codes.shape[1], device=codes.device)
            tril = torch.linalg.cholesky_ex(torch.cov(codes.T).view_as(eye) + PRIOR_JITTER * eye)[0]
            groups[g] = codes, (torch.full((self.components,), -math.log(self.components), device=codes.device),
                                codes[torch.linspace(0, len(codes) - 1, self.components, device=codes.device).long()],
                                tril.expand(self.components, -1, -1))
        return groups

    @staticmethod
    def _em_step(log_weights, means, tril, codes):
        """One EM iteration: the new (log weights, means, Cholesky factors), or None if a covariance
        is not positive definite."""
        inverse = torch.linalg.inv(tril).transpose(1, 2)                                # (k, d, d)
        white = codes @ inverse - means[:, None] @ inverse                               # (k, n, d)
        log_det = tril.diagonal(dim1=1, dim2=2).log().sum(1)
        resp = (log_weights - log_det - 0.5 * white.pow(2).sum(2).T).softmax(1)          # (n, k)
        mass = resp.sum(0) + 1e-8
        means = resp.T @ codes / mass[:, None]
        second = (codes.T[None] * resp.T[:, None]) @ codes / mass[:, None, None]         # E[z z^T] per component
        cov = second - means[:, :, None] * means[:, None, :]
        cov += PRIOR_JITTER * torch.eye(codes.shape[1], device=codes.device)
        tril, bad = torch.linalg.cholesky_ex(cov)
        return None if bad.any() else ((mass / mass.sum()).log(), means, tril)

    def codes(self, noise: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Codes from the mixture: noise[:, 0] picks the component (through the normal CDF, so that the
        same noise keeps its component), the rest is the component's standard normal noise."""
        self.refit(PRIOR_ITERATIONS_AT_ONCE)
        g = labels.long() if labels is not None else torch.zeros(len(noise), dtype=torch.long, device=noise.device)
        u = 0.5 * (1 + torch.erf(noise[:, 0] / math.sqrt(2)))
        edges = self.log_weights[g].softmax(1).cumsum(1)
        k = torch.searchsorted(edges, u[:, None].contiguous()).clamp(max=self.components - 1).squeeze(1)
        tril = self.scale_tril[g, k]
        return self.means[g, k] + (tril @ noise[:, 1:, None]).squeeze(-1)
