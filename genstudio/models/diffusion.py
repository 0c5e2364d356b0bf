"""Denoising diffusion (Ho et al. 2020) with epsilon prediction and DDPM and DDIM samplers, or flow
matching (rectified flow) with Euler and Heun samplers; optionally class-conditional, with
classifier-free guidance (Ho & Salimans 2022).

The schedulers follow diffusers' interface: set_timesteps(n), then step(output, t, sample) returning
the previous sample and the predicted clean sample. `denoise` yields every intermediate step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DiffusionConfig
from .base import DataSpec, GenerativeModel, WeightAverage, make_optimizer


def make_alphas_cumprod(schedule: str, timesteps: int) -> torch.Tensor:
    if schedule == "linear":
        scale = 1000 / timesteps  # keeps the DDPM endpoints meaningful for other lengths
        betas = torch.linspace(scale * 1e-4, min(scale * 0.02, 0.999), timesteps, dtype=torch.float64)
        return torch.cumprod(1 - betas, 0).float()
    s = 0.008  # cosine schedule (Nichol & Dhariwal 2021)
    t = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


def flow_level(t, timesteps: int):
    """Flow matching's level s of timestep t of `timesteps` (t = -1, past the last step, is the data: s = 0)."""
    return (t + 1) / timesteps


def add_flow_noise(timesteps: int, original: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Flow matching's x_s = (1 - s) x_0 + s noise, per example."""
    s = flow_level(t.to(original.device).float(), timesteps).view(-1, *([1] * (original.dim() - 1)))
    return (1 - s) * original + s * noise


def add_noise(alphas_cumprod: torch.Tensor, original: torch.Tensor, noise: torch.Tensor,
              timesteps: torch.Tensor) -> torch.Tensor:
    """The forward process q(x_t | x_0): sqrt(alpha-bar_t) x_0 + sqrt(1 - alpha-bar_t) noise, per example."""
    a = alphas_cumprod.to(original.device)[timesteps].view(-1, *([1] * (original.dim() - 1)))
    return a.sqrt() * original + (1 - a).sqrt() * noise


@dataclass(frozen=True)
class StepOutput:
    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


class DDIMScheduler:
    """DDIM (Song et al. 2021); eta = 0 is deterministic, eta = 1 is DDPM's ancestral sampler."""

    eta = 0.0

    def __init__(self, alphas_cumprod: torch.Tensor, clip: float | None = None):
        self.alphas_cumprod = alphas_cumprod
        self.num_train_timesteps = len(alphas_cumprod)
        self.clip = clip
        self.set_timesteps(self.num_train_timesteps)

    def set_timesteps(self, n: int) -> None:
        n = max(1, min(n, self.num_train_timesteps))
        # evenly spaced, always ending at t = 0 and starting near T - 1
        steps = torch.linspace(self.num_train_timesteps - 1, 0, n).round().long()
        self.timesteps = torch.unique_consecutive(steps)

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """diffusers' add_noise: the training examples noised to their timesteps."""
        return add_noise(self.alphas_cumprod, original, noise, timesteps)

    def previous(self, t: int) -> int:
        i = (self.timesteps == t).nonzero()[0, 0].item()
        return int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1

    def step(self, eps: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None, prev_t: int | None = None) -> StepOutput:
        prev_t = self.previous(t) if prev_t is None else prev_t
        ac = self.alphas_cumprod
        a_t = ac[t].to(sample.device)
        a_prev = ac[prev_t].to(sample.device) if prev_t >= 0 else torch.ones((), device=sample.device)
        x0 = (sample - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        if self.clip is not None:
            x0 = x0.clamp(-self.clip, self.clip)
            eps = (sample - a_t.sqrt() * x0) / (1 - a_t).sqrt()
        sigma = self.eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp(min=0).sqrt()
        direction = (1 - a_prev - sigma ** 2).clamp(min=0).sqrt() * eps
        prev = a_prev.sqrt() * x0 + direction
        if self.eta > 0 and prev_t >= 0:
            prev = prev + sigma * torch.randn(sample.shape, generator=generator, device=sample.device)
        return StepOutput(prev, x0)


class DDPMScheduler(DDIMScheduler):
    eta = 1.0


class FlowScheduler:
    """Flow matching on the straight path (Lipman et al. 2023; Liu et al. 2023, rectified flow).

    Timestep t of T stands for the level s = (t + 1) / T: x_s = (1 - s) x_0 + s noise, and the network
    predicts the velocity v = noise - x_0, constant along each path. Euler steps go from s to the next
    level s' by x_s' = x_s + (s' - s) v, down to s = 0; Heun (order 2) averages v at both ends."""

    eta = 0.0
    order = 1

    def __init__(self, timesteps: int):
        self.num_train_timesteps = timesteps
        self.set_timesteps(timesteps)

    set_timesteps = DDIMScheduler.set_timesteps
    previous = DDIMScheduler.previous

    def level(self, t) -> torch.Tensor | float:
        return flow_level(t, self.num_train_timesteps)

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        return add_flow_noise(self.num_train_timesteps, original, noise, timesteps)

    def step(self, v: torch.Tensor, t: int, sample: torch.Tensor,
             generator: torch.Generator | None = None, prev_t: int | None = None) -> StepOutput:
        prev_t = self.previous(t) if prev_t is None else prev_t
        s, s_prev = self.level(t), self.level(prev_t)
        return StepOutput(sample + (s_prev - s) * v, sample - s * v)


class HeunScheduler(FlowScheduler):
    order = 2


SCHEDULERS = {"ddim": DDIMScheduler, "ddpm": DDPMScheduler, "euler": FlowScheduler, "heun": HeunScheduler}


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


def transport_pairs(x0: torch.Tensor, noise: torch.Tensor, iterations: int = 20,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """For each example, the index of a noise draw to pair it with, drawn from its row of the entropic
    optimal transport plan between the batch's examples and its noise (Sinkhorn, squared distance), so that
    examples meet nearby noise (Tong et al. 2023, minibatch OT flow matching). In float64, where the
    kernel of a far pair (exp(-cost / eps), down to about exp(-400)) does not underflow."""
    cost = torch.cdist(x0.flatten(1).double(), noise.flatten(1).double()) ** 2
    log_kernel = -cost / (0.05 * cost.mean())
    kernel = log_kernel.exp()
    v = torch.ones(len(noise), dtype=kernel.dtype, device=kernel.device)
    for _ in range(iterations):
        u = 1 / (kernel @ v)
        v = 1 / (kernel.T @ u)
    logits = (log_kernel + v.log()[None]).float()
    uniform = torch.rand(logits.shape, device=logits.device, generator=generator)
    gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-12)))   # one draw per row, as multinomial
    return (logits + gumbel).argmax(1)


def class_embedding(classes: int, dim: int) -> nn.Embedding | None:
    """One vector per class and one more, the last, for "no class" (a dropped label)."""
    return nn.Embedding(classes + 1, dim) if classes else None


def with_label(temb: torch.Tensor, label: nn.Embedding | None, y: torch.Tensor | None) -> torch.Tensor:
    """The time embedding plus the class's (y == classes or None: no class): every block sees both."""
    if label is None:
        return temb
    if y is None:
        y = torch.full(temb.shape[:1], label.num_embeddings - 1, dtype=torch.long, device=temb.device)
    return temb + label(y)


class ResidualMLP(nn.Module):
    """Time-conditioned MLP for 2D points: eps_theta(x_t, t).

    Each coordinate also enters as sinusoidal features (as the timestep does): the noise to
    predict near a tight mode changes sharply with position, which a plain MLP learns slowly.
    """

    INPUT_SCALE = 25.0

    def __init__(self, dim: int, width: int, depth: int, classes: int = 0):
        super().__init__()
        self.width = width
        self.inp = nn.Linear(dim + dim * width // 2, width)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.label = class_embedding(classes, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
            for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))

    def forward(self, x, t, y=None):
        coords = [timestep_embedding(x[:, i] * self.INPUT_SCALE, self.width // 2) for i in range(x.shape[1])]
        h = self.inp(torch.cat([x, *coords], dim=1)) + with_label(self.time(timestep_embedding(t, self.width)),
                                                                   self.label, y)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(min(8, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class SmallUNet(nn.Module):
    """Two resolutions, skip connections, time embedding in every residual block.

    Images of 24 pixels and more are first folded into 2x2 patches (pixel_unshuffle: a 28x28 grey
    image becomes 4 channels of 14x14) and unfolded at the end: on a CPU the full-resolution
    convolutions cost most of the time, and at the same cost the patched network has four times
    the channels (measured on 28x28, batch 64: width 32 patched 0.10 s a step, width 16 unpatched 0.14 s)."""

    PATCH_FROM = 24

    def __init__(self, channels: int, width: int, size: int = 0, classes: int = 0):
        super().__init__()
        self.patch = 2 if size >= self.PATCH_FROM else 1
        folded = channels * self.patch ** 2
        c1, c2, t_dim = width, 2 * width, 4 * width
        self.width = width
        self.time = nn.Sequential(nn.Linear(width, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.label = class_embedding(classes, t_dim)
        self.inp = nn.Conv2d(folded, c1, 3, padding=1)
        self.down1 = ResBlock(c1, c1, t_dim)
        self.downsample = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down2 = ResBlock(c1, c2, t_dim)
        self.mid = ResBlock(c2, c2, t_dim)
        self.up2 = ResBlock(2 * c2, c2, t_dim)
        self.upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c1, 3, padding=1))
        self.up1 = ResBlock(2 * c1, c1, t_dim)
        self.out = nn.Sequential(nn.GroupNorm(min(8, c1), c1), nn.SiLU(), nn.Conv2d(c1, folded, 3, padding=1))

    def forward(self, x, t, y=None):
        temb = with_label(self.time(timestep_embedding(t, self.width)), self.label, y)
        if self.patch > 1:
            x = F.pixel_unshuffle(x, self.patch)
        h1 = self.down1(self.inp(x), temb)
        h2 = self.down2(self.downsample(h1), temb)
        h = self.mid(h2, temb)
        h = self.up2(torch.cat([h, h2], 1), temb)
        up = self.upsample(h)[..., :h1.shape[2], :h1.shape[3]]  # an odd side (7 -> 4 -> 8) cut back to 7
        h = self.out(self.up1(torch.cat([up, h1], 1), temb))
        return F.pixel_shuffle(h, self.patch) if self.patch > 1 else h


class Diffusion(GenerativeModel):
    loss_names = ("loss",)

    def __init__(self, cfg: DiffusionConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        if spec.kind == "points":
            self.net = ResidualMLP(2, cfg.width, cfg.depth, self.classes)
        else:
            self.net = SmallUNet(spec.shape[0], cfg.width, spec.shape[-1], self.classes)
        self.ema = WeightAverage(self.net, cfg.ema)
        self.register_buffer("alphas_cumprod", make_alphas_cumprod(cfg.schedule, cfg.timesteps), persistent=False)

    def make_optimizers(self):
        self.opt = make_optimizer(torch.optim.Adam, self.net.parameters(), self.cfg.lr)
        return [self.opt]

    def scheduler(self, sampler: str | None = None, steps: int | None = None,
                  eta: float | None = None) -> DDIMScheduler | FlowScheduler:
        """`eta`: DDIM's noise level (0 deterministic, 1 = DDPM), for the DDIM sampler only."""
        sampler = sampler or self.cfg.sampler
        if sampler in ("euler", "heun"):
            sched = SCHEDULERS[sampler](self.cfg.timesteps)
        else:
            sched = SCHEDULERS[sampler](self.alphas_cumprod, clip=1.0 if self.spec.kind == "image" else None)
        sched.set_timesteps(steps or self.cfg.sample_steps)
        if eta is not None and sampler == "ddim":
            sched.eta = eta
        return sched

    # the forward process and what the network learns, by objective ------------------------------------
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t: DDPM's sqrt(alpha-bar) x_0 + sqrt(1 - alpha-bar) noise, or flow matching's straight path."""
        if self.cfg.objective == "flow":
            return add_flow_noise(self.cfg.timesteps, x0, noise, t)
        return add_noise(self.alphas_cumprod, x0, noise, t)

    def target(self, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the network is trained to output: the noise (eps), or the velocity noise - x_0 (flow)."""
        return noise - x0 if self.cfg.objective == "flow" else noise

    def mixture(self, t: int) -> tuple[float, float]:
        """x_t = a x_0 + b noise: (a, b) = (sqrt(alpha-bar_t), sqrt(1 - alpha-bar_t)), or (1 - s, s) (flow)."""
        if self.cfg.objective == "flow":
            s = flow_level(t, self.cfg.timesteps)
            return 1 - s, s
        a = float(self.alphas_cumprod[t])
        return math.sqrt(a), math.sqrt(1 - a)

    def paired(self, x0: torch.Tensor, noise: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The noise each example is trained with: flow matching's optimal-transport coupling pairs
        each with a nearby draw; otherwise any."""
        if self.cfg.objective == "flow" and self.cfg.coupling == "ot":
            return noise[transport_pairs(x0, noise, generator=generator)]
        return noise

    def train_step(self, draw):
        x0, y = self.split(draw())
        t = torch.randint(0, self.cfg.timesteps, (x0.shape[0],), device=x0.device)
        eps = self.paired(x0, torch.randn_like(x0))
        x_t = self.add_noise(x0, eps, t)
        y = self.drop_labels(y) if y is not None else None
        loss = F.mse_loss(self.net(x_t, t, y), self.target(x0, eps))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.ema.update()
        return loss.detach().reshape(1)

    @property
    def held_out_name(self) -> str:
        return "loss (velocity MSE)" if self.cfg.objective == "flow" else "loss (noise-prediction MSE)"

    @torch.no_grad()
    def held_out_loss(self, batch, labels=None):
        """The training loss of the network that samples (the weight average), at noise levels and
        noise drawn from a fixed seed: the same draws for every call with as many items. A conditional
        model is measured with each item's class."""
        g = torch.Generator(batch.device).manual_seed(0)
        t = torch.randint(0, self.cfg.timesteps, (batch.shape[0],), device=batch.device, generator=g)
        eps = self.paired(batch, torch.randn(batch.shape, device=batch.device, generator=g), g)
        x_t = self.add_noise(batch, eps, t)
        y = labels if self.classes else None
        return F.mse_loss(self.ema.module(x_t, t, y), self.target(batch, eps), reduction="sum"), eps.numel()

    def make_noise(self, n, generator):
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def predict(self, x: torch.Tensor, t: int, labels: torch.Tensor | None = None,
                guidance: float | None = None, net: nn.Module | None = None, kept: dict | None = None) -> torch.Tensor:
        """The sampling network's output at x_t. A conditional model is guided (classifier-free):
        unconditional + guidance x (conditional - unconditional); 0 is the unconditional output, 1
        the conditional one. `labels` default to the classes in turn (sample_labels)."""
        passes = self.predict_in_passes(x, t, labels, guidance, net, kept)
        while True:
            try:
                next(passes)
            except StopIteration as end:
                return end.value

    def predict_in_passes(self, x, t, labels=None, guidance=None, net=None, kept=None):
        """`predict` one pass of the network at a time, None between them (a guided output is two: the
        asked classes', then no class's): a request that replaces a trajectory waits for half a step.
        Returns the output. `kept`: a dict of passes already computed at this x and t, by their classes
        (read, and added to)."""
        net = net or self.ema.module
        ts = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)

        def run(classes):
            if kept is None:
                return net(x, ts, classes)
            key = None if classes is None else tuple(classes.tolist())   # (a host sync: the explorer's CPU only)
            if key not in kept:
                kept[key] = net(x, ts, classes)
            return kept[key]

        if not self.classes:
            return run(None)
        guidance = self.cfg.guidance if guidance is None else guidance
        labels = self.sample_labels(x.shape[0], x.device) if labels is None else labels
        none = torch.full_like(labels, self.classes)
        if guidance == 1:
            return run(labels)
        if guidance == 0:
            return run(none)
        conditional = run(labels)   # (two passes cost a CPU no more than one of twice the batch)
        yield None
        unconditional = run(none)
        return unconditional + guidance * (conditional - unconditional)

    @torch.no_grad()
    def denoise(self, noise: torch.Tensor, scheduler: DDIMScheduler | FlowScheduler | None = None,
                generator: torch.Generator | None = None, labels: torch.Tensor | None = None,
                guidance: float | None = None, pauses: bool = False,
                first_passes: dict | None = None) -> Iterator[tuple[int, StepOutput] | None]:
        """Yield (t, StepOutput) for every sampling step, from pure noise down to t = 0; `pauses`: and
        None between a guided step's two passes. `first_passes`: the network's passes at this noise and
        the first t, by their classes, as `predict_in_passes` keeps them (the same noise denoised again
        with another class or guidance needs only the passes it has not had)."""
        scheduler = scheduler or self.scheduler()
        x = noise
        timesteps = scheduler.timesteps.tolist()

        def predict(x, t, kept=None):   # (with `pauses`, the Nones between passes go out through denoise)
            if pauses:
                return (yield from self.predict_in_passes(x, t, labels, guidance, kept=kept))
            return self.predict(x, t, labels, guidance, kept=kept)

        for i, t in enumerate(timesteps):
            prev_t = timesteps[i + 1] if i + 1 < len(timesteps) else -1
            output = yield from predict(x, t, first_passes if i == 0 else None)
            out = scheduler.step(output, t, x, generator=generator, prev_t=prev_t)
            if getattr(scheduler, "order", 1) == 2 and prev_t >= 0:   # Heun: the slope at the far end too
                slope = yield from predict(out.prev_sample, prev_t)
                out = StepOutput(scheduler.step((output + slope) / 2, t, x, prev_t=prev_t).prev_sample,
                                 out.pred_original_sample)
            x = out.prev_sample
            yield t, out

    @torch.no_grad()
    def sample(self, noise, scheduler=None, labels=None, guidance=None):
        # a fixed generator keeps DDPM snapshots comparable from one snapshot to the next
        g = torch.Generator(noise.device).manual_seed(0)
        x = noise
        for _, out in self.denoise(noise, scheduler, generator=g, labels=labels, guidance=guidance):
            x = out.prev_sample
        return x
