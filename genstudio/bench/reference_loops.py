"""The training loops a user would otherwise write, the way the common tutorials write them.

One function per family. Each takes a model built by `genstudio.models.build_model` (the same
networks the engine trains, with the same optimiser and hyperparameters, built the way a tutorial
builds it) and its training tensor (on the CPU, as a tutorial's data set is), and trains it for a number of
seconds the way pytorch/examples does: a DataLoader over a TensorDataset with shuffle=True, the loss
written out in the loop, and `.item()` on every step (for the running loss a tutorial prints).
Each returns the steps it did and the seconds they took (the DataLoader's epoch restarts included).

    reference_loops.LOOPS[family](model, x, batch_size, seconds) -> (steps, seconds)
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def tutorial_optimizer(opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """What a tutorial writes, `optim.Adam(model.parameters(), lr=...)`: the model's optimiser class
    and hyperparameters (lr, betas, eps, weight decay) with torch's default implementation."""
    group = opt.param_groups[0]
    return type(opt)(group["params"], lr=group["lr"], betas=group["betas"], eps=group["eps"],
                     weight_decay=group["weight_decay"])


def _batches(x: torch.Tensor, batch_size: int, seconds: float):
    """Batches for `seconds` of wall time: a new epoch of the shuffled DataLoader when one ends."""
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True)
    deadline = time.perf_counter() + seconds
    while True:
        for (batch,) in loader:
            yield batch
            if time.perf_counter() >= deadline:
                return


def _timed(step, model, x, batch_size, seconds):
    device = next(model.parameters()).device
    steps, running = 0, 0.0
    began = time.perf_counter()
    for batch in _batches(x, batch_size, seconds):
        running += step(batch.to(device))
        steps += 1
    return steps, time.perf_counter() - began


def gan_loop(model, x, batch_size, seconds):
    """pytorch/examples dcgan: D on real and on G(z).detach(), then G through D(G(z)); .item() each."""
    net_g, net_d = model.generator, model.discriminator
    opt_g, opt_d = tutorial_optimizer(model.opt_g), tutorial_optimizer(model.opt_d)
    cfg = model.cfg

    def step(real):
        # (1) update D
        opt_d.zero_grad()
        if cfg.loss == "r1":
            real.requires_grad_(True)
        out_real = net_d(real)
        noise = torch.randn(real.shape[0], cfg.latent_dim, device=real.device)
        fake = net_g(noise)
        out_fake = net_d(fake.detach())
        if cfg.loss == "wgan-gp":
            err_d = out_fake.mean() - out_real.mean()
            mix = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
            between = (mix * real + (1 - mix) * fake.detach()).requires_grad_(True)
            grad, = torch.autograd.grad(net_d(between).sum(), between, create_graph=True)
            penalty = cfg.penalty * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        else:
            err_d = F.softplus(-out_real).mean() + F.softplus(out_fake).mean()
            penalty = torch.zeros((), device=real.device)
            if cfg.loss == "r1":
                grad, = torch.autograd.grad(out_real.sum(), real, create_graph=True)
                penalty = cfg.penalty / 2 * grad.flatten(1).pow(2).sum(1).mean()
        (err_d + penalty).backward()
        opt_d.step()
        # (2) update G
        opt_g.zero_grad()
        out = net_d(fake)
        err_g = -out.mean() if cfg.loss == "wgan-gp" else F.softplus(-out).mean()
        err_g.backward()
        opt_g.step()
        model.ema.update()  # the same model: its samples come from the weight average
        return err_d.item() + err_g.item()

    return _timed(step, model, x, batch_size, seconds)


def vae_loop(model, x, batch_size, seconds):
    """pytorch/examples vae: recon_batch, mu, logvar = model(data); loss_function; train_loss += loss.item()."""
    opt = tutorial_optimizer(model.opt)

    def loss_function(out, data, mu, logvar):
        data = data.flatten(1)
        if model.likelihood == "bernoulli":
            recon = F.binary_cross_entropy_with_logits(out, data, reduction="sum")
        else:
            inv = (-model.log_sigma).exp()
            recon = -(-0.5 * ((data - out) * inv) ** 2 - model.log_sigma - 0.9189385332046727).sum()
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (recon + model.cfg.beta * kld) / data.shape[0]

    def step(data):
        opt.zero_grad()
        mu, logvar = model.encode(data)
        out = model.decoder(model.reparameterize(mu, logvar))
        loss = loss_function(out, data, mu, logvar)
        loss.backward()
        opt.step()
        return loss.item()

    return _timed(step, model, x, batch_size, seconds)


def diffusion_loop(model, x, batch_size, seconds):
    """The usual DDPM tutorial step: t ~ U, x_t = sqrt(a) x0 + sqrt(1 - a) eps, MSE on eps; .item()."""
    opt, net, acp = tutorial_optimizer(model.opt), model.net, model.alphas_cumprod

    def step(x0):
        t = torch.randint(0, len(acp), (x0.shape[0],), device=x0.device)
        noise = torch.randn_like(x0)
        a = acp[t].view(-1, *([1] * (x0.dim() - 1)))
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = F.mse_loss(net(x_t, t), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.ema.update()
        return loss.item()

    return _timed(step, model, x, batch_size, seconds)


def ar_loop(model, x, batch_size, seconds):
    """nanoGPT / makemore: logits = model(x); cross_entropy over the flattened logits; .item()."""
    opt = tutorial_optimizer(model.opt)

    def step(seq):
        inputs, targets = seq[:, :-1].clamp(min=0), seq[:, 1:]
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return _timed(step, model, x, batch_size, seconds)


LOOPS = {"gan": gan_loop, "vae": vae_loop, "diffusion": diffusion_loop, "ar": ar_loop}
