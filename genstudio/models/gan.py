"""GAN: MLP pair for 2D points, a small DCGAN-style pair for images.

Losses: non-saturating (ns), ns + R1 penalty on real data (r1, Mescheder et al. 2018), or WGAN-GP.
Class-conditional on labelled data: the generator gets the class beside the noise (one-hot), and the
discriminator adds the inner product of a class vector with its last features (a projection
discriminator, Miyato & Koyama 2018).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import GANConfig
from .base import DataSpec, GenerativeModel, WeightAverage, make_optimizer, mlp


def _halvings(size: int) -> tuple[int, int]:
    """(start, n): the size is start * 2**n with start as small as halving allows (8 -> 2, 28 -> 7),
    but no smaller than 4 from 32 pixels up (DCGAN's 4x4 start: from 2x2, a 32x32 generator had
    four upsamplings and 16 times the base width at the start, and learned no digit in 120 s)."""
    smallest = 4 if size >= 32 else 2
    start, n = size, 0
    while start % 2 == 0 and start > smallest:
        start, n = start // 2, n + 1
    return start, n


def _conv_generator(latent: int, width: int, shape) -> nn.Module:
    channels, size, _ = shape
    start, ups = _halvings(size)
    chans = [width * 2 ** (ups - i) for i in range(ups)]  # e.g. 8x8: [4w, 2w]
    layers: list[nn.Module] = [nn.Linear(latent, chans[0] * start * start), nn.Unflatten(1, (chans[0], start, start)),
                               nn.BatchNorm2d(chans[0]), nn.ReLU()]
    for i in range(ups):
        out = chans[i + 1] if i + 1 < ups else channels
        layers.append(nn.ConvTranspose2d(chans[i], out, 4, 2, 1))
        if i + 1 < ups:
            layers += [nn.BatchNorm2d(out), nn.ReLU()]
    layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def _conv_discriminator(width: int, shape) -> nn.Module:
    channels, size, _ = shape
    start, downs = _halvings(size)
    layers: list[nn.Module] = []
    c_in = channels
    for i in range(downs):
        c_out = width * 2 ** i
        layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        c_in = c_out
    layers += [nn.Flatten(), nn.Linear(c_in * start * start, 1)]
    return nn.Sequential(*layers)


class GAN(GenerativeModel):
    loss_names = ("d_loss", "g_loss", "penalty")

    def __init__(self, cfg: GANConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        inputs = cfg.latent_dim + self.classes
        if spec.kind == "points":
            hidden = [cfg.width] * cfg.depth
            self.generator = mlp([inputs, *hidden, 2], act=nn.ReLU)
            self.discriminator = mlp([2, *hidden, 1], act=lambda: nn.LeakyReLU(0.2))
        else:
            self.generator = _conv_generator(inputs, cfg.width, spec.shape)
            self.discriminator = _conv_discriminator(cfg.width, spec.shape)
        if self.classes:   # the projection: one vector per class, against the discriminator's last features
            self.class_vectors = nn.Embedding(self.classes, self.discriminator[-1].in_features)
            nn.init.normal_(self.class_vectors.weight, std=0.02)
        self.ema = WeightAverage(self.generator, cfg.ema)
        self._last: torch.Tensor | None = None  # latest loss terms, for one-network steps

    def make_optimizers(self):
        cfg = self.cfg
        betas = (cfg.beta1, cfg.beta2)
        judge = list(self.discriminator.parameters()) + (list(self.class_vectors.parameters()) if self.classes else [])
        self.opt_g = make_optimizer(torch.optim.Adam, self.generator.parameters(), cfg.lr, betas=betas)
        self.opt_d = make_optimizer(torch.optim.Adam, judge, cfg.lr, betas=betas)
        return [self.opt_g, self.opt_d]

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, net: nn.Module | None = None) -> torch.Tensor:
        """The generator's (or `net`'s, its weight average) output for noise z; a conditional model
        draws class y (None: the classes in turn)."""
        net = net or self.generator
        if not self.classes:
            return net(z)
        y = self.sample_labels(len(z), z.device) if y is None else y
        return net(torch.cat([z, F.one_hot(y.long(), self.classes).to(z.dtype)], 1))

    def judge(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's raw score (N, 1); a conditional model's for x as class y."""
        if not self.classes or y is None:
            return self.discriminator(x)
        features = self.discriminator[:-1](x)
        return self.discriminator[-1](features) + (self.class_vectors(y.long()) * features).sum(1, keepdim=True)

    def make_noise(self, n, generator):
        return torch.randn(n, self.cfg.latent_dim, generator=generator, device=generator.device)

    def _noise_like(self, batch):
        return torch.randn(batch.shape[0], self.cfg.latent_dim, device=batch.device)

    def d_step(self, real: torch.Tensor, fake: torch.Tensor | None = None,
               y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One discriminator update on real data and `fake` (detached; drawn fresh when None); a
        conditional model's real and fake examples are both of classes y."""
        cfg = self.cfg
        if fake is None:
            with torch.no_grad():
                fake = self.generate(self._noise_like(real), y)
        penalty = real.new_zeros(())
        if cfg.loss == "wgan-gp":
            mix = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
            between = (mix * real + (1 - mix) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(self.judge(between, y).sum(), between, create_graph=True)
            penalty = cfg.penalty * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss = self.judge(fake, y).mean() - self.judge(real, y).mean()
        else:
            real = real.requires_grad_(cfg.loss == "r1")
            d_real = self.judge(real, y)
            loss = F.softplus(-d_real).mean() + F.softplus(self.judge(fake, y)).mean()
            if cfg.loss == "r1":
                grad, = torch.autograd.grad(d_real.sum(), real, create_graph=True)
                penalty = cfg.penalty / 2 * grad.flatten(1).pow(2).sum(1).mean()
        self.opt_d.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        self.opt_d.step()
        return loss.detach(), penalty.detach()

    def g_step(self, batch_size: int, device, fake: torch.Tensor | None = None,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """One generator update through the discriminator; `fake`: G's output, still attached to G
        (a conditional model's, of classes y)."""
        if fake is None:
            fake = self.generate(torch.randn(batch_size, self.cfg.latent_dim, device=device), y)
        d_fake = self.judge(fake, y)
        loss = -d_fake.mean() if self.cfg.loss == "wgan-gp" else F.softplus(-d_fake).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.ema.update()
        return loss.detach()

    def train_step(self, draw):
        # As in DCGAN, the last discriminator step's fakes also train the generator: one forward
        # pass of the generator fewer per step (the discriminator sees them detached).
        # A conditional model's fakes are asked for the real batch's classes.
        for i in range(self.cfg.d_steps):
            batch, y = self.split(draw())
            fake = self.generate(self._noise_like(batch), y) if i == self.cfg.d_steps - 1 else None
            d_loss, penalty = self.d_step(batch, None if fake is None else fake.detach(), y)
        g_loss = self.g_step(batch.shape[0], batch.device, fake, y)
        self._last = torch.stack([d_loss, g_loss, penalty])
        return self._last

    def partial_step(self, part, draw):
        """Train only the discriminator ("d") or only the generator ("g") for one step."""
        if part not in ("d", "g"):
            return self.train_step(draw)
        batch, y = self.split(draw())
        last = self._last if self._last is not None else batch.new_zeros(3)
        if part == "d":
            d_loss, penalty = self.d_step(batch, y=y)
            self._last = torch.stack([d_loss, last[1], penalty])
        else:
            self._last = torch.stack([last[0], self.g_step(batch.shape[0], batch.device, y=y), last[2]])
        return self._last

    # The discriminator's loss on real images: when it rises on held-out ones while it falls on the
    # training ones, the discriminator is learning the training images by heart. It does not rank the
    # generator's weights.
    held_out_name = "discriminator loss on real items"
    ranks_weights = False

    @torch.no_grad()
    def held_out_loss(self, batch, labels=None):
        d_real = self.judge(batch, labels)
        loss = -d_real if self.cfg.loss == "wgan-gp" else F.softplus(-d_real)
        return loss.sum(), d_real.numel()

    @torch.no_grad()
    def sample(self, noise, labels=None):
        gen = self.ema.module
        was_training = gen.training
        gen.eval()
        out = self.generate(noise, labels, gen)
        gen.train(was_training)
        return out

