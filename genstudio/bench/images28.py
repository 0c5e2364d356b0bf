"""Every family trained on 28x28 grey digits (genstudio/bench/digits28.py, imported as IDX files as a user
would) for a fixed time on one training thread: steps/s, FD, class coverage, the share of wall time
that snapshots and evaluations took, the final evaluation's and a 64-image snapshot's seconds.

    python -m genstudio.bench.images28 [--seconds 120] [--only vae] [--set key=value] [--grids DIR]

`genstudio bench --only images` prints the same rows, and the VAE beside the pytorch/examples VAE."""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np

from .digits28 import ensure

SNAPSHOT_S, EVAL_S = 0.5, 10.0   # the window's cadence


def digits28_path(n: int = 10000, rgb: bool = False) -> str:
    """The set (--rgb: its 32x32 colour version), made once into GenStudio's cache folder (about 12 s
    for 10,000 images)."""
    from genstudio.storage import cache_dir

    return ensure(cache_dir("digits28"), n, rgb=rgb)


def trained(family: str, seconds: float, overrides: dict | None = None, data: str | None = None):
    """(a Trainer that trained `family` on `data` (default: the 28x28 digits) for `seconds` on one
    thread with the window's snapshot and evaluation cadence, the wall time it took). `overrides`:
    settings as --set strings."""
    from genstudio.config import FAMILY_CONFIGS, default_experiment
    from genstudio.engine.trainer import Cadence, Trainer

    exp = default_experiment(family, data or digits28_path(), seconds=seconds, threads=1)
    if overrides:
        exp = dataclasses.replace(exp, family=FAMILY_CONFIGS[family].from_strings(overrides, base=exp.family))
    trainer = Trainer(exp, Cadence(snapshot_s=SNAPSHOT_S, eval_s=EVAL_S, evaluate_at_end=False))
    began = time.perf_counter()
    for _ in trainer.run():  # snapshots and evaluations as the window asks for them
        pass
    return trainer, time.perf_counter() - began


def train(family: str, seconds: float, overrides: dict | None = None, data: str | None = None,
          grid: str | None = None) -> dict:
    """Train `family` on `data` (default: the 28x28 digits) with the window's snapshot and evaluation
    cadence; the wall time each part took, and the final evaluation."""
    trainer, wall = trained(family, seconds, overrides, data)
    t = time.perf_counter()
    snap = trainer.snapshot()
    snapshot_s = time.perf_counter() - t
    t = time.perf_counter()
    last = trainer.evaluate().values
    final_eval_s = time.perf_counter() - t
    with trainer.best_weights() as best_step:   # what the command line writes: the best held-out step's
        metrics = trainer.evaluate().values if best_step != trainer.step else last
        if best_step != trainer.step:
            snap = trainer.snapshot()
    if grid:
        from PIL import Image

        from genstudio.engine.render import image_grid
        side = snap.samples.shape[-1]
        Image.fromarray(np.asarray(image_grid(snap.samples, cols=8))).resize((8 * side * 3,) * 2,
                                                                             Image.NEAREST).save(grid)
    return {"family": family, "steps": trainer.step, "train_s": trainer.seconds, "wall_s": wall,
            "steps_per_s": trainer.step / trainer.seconds, "report_share": 1 - trainer.seconds / wall,
            "held_out_share": trainer.held_out_seconds / wall, "best_step": best_step,
            "last_nll_nats": last.get("nll_nats"), "snapshot_s": snapshot_s, "final_eval_s": final_eval_s,
            "classes": trainer.model.classes, **metrics}


def first_images(path: str, n: int) -> str:
    """The first `n` images of an image set (and their labels) as an .npz file in GenStudio's cache
    folder, imported as a user's file would be (its own 90/10 split)."""
    import hashlib

    from genstudio import data as data_sets
    from genstudio.storage import cache_dir

    ds = data_sets.load(path)
    images = np.concatenate([ds.x, ds.held_out])[:n]
    labels = np.concatenate([ds.labels, ds.held_out_labels])[:n] if ds.labels is not None else None
    tag = hashlib.sha1(f"{os.path.abspath(path)}{os.path.getsize(path)}".encode()).hexdigest()[:10]
    out = os.path.join(cache_dir("subsets"), f"first-{n}-{tag}.npz")
    if not os.path.exists(out):
        pixels = np.rint(images[:, 0] * 255).astype(np.uint8) if images.shape[1] == 1 else \
            np.rint(images.transpose(0, 2, 3, 1) * 255).astype(np.uint8)
        np.savez(out, x=pixels, **({"y": labels} if labels is not None else {}))
    return out


def tutorial_vae(ds, seconds: float, seed: int = 0) -> dict:
    """pytorch/examples' MNIST VAE as its README trains it (784-400-20, ReLU, Adam 1e-3, batch 128,
    a shuffled DataLoader, summed BCE + KL) on the same images for `seconds`; its held-out negative
    ELBO in nats per example (one z sample per example, as GenStudio's VAE reports it)."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    d = int(np.prod(ds.x.shape[1:]))

    class TutorialVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(d, 400), nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, d)

        def forward(self, x):
            h = F.relu(self.fc1(x.view(-1, d)))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    def loss_function(recon, x, mu, logvar):
        bce = F.binary_cross_entropy(recon, x.view(-1, d), reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    model = TutorialVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(torch.from_numpy(ds.x)), batch_size=128, shuffle=True)
    steps, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for (x,) in loader:
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            opt.step()
            steps += 1
            if time.perf_counter() - began >= seconds:
                break
    model.eval()
    with torch.no_grad():
        held = torch.from_numpy(ds.held_out)
        recon, mu, logvar = model(held)
        nelbo = float(loss_function(recon, held, mu, logvar)) / len(held)
    return {"steps": steps, "steps_per_s": steps / seconds, "nll_nats": nelbo}


def describe(row: dict) -> str:
    hist = row.get("class_histogram")
    low = f"  min class {min(hist):.1%}" if hist else ""
    nll = f"  nll {row['nll_nats']:.1f} (best step {row['best_step']}; last {row['last_nll_nats']:.1f})" \
        if "nll_nats" in row else ""
    accuracy = f"  class accuracy {row['class_accuracy']:.2f}" if "class_accuracy" in row else ""
    return (f"{row['family']:<10} {row['steps']:>7} steps  {row['steps_per_s']:7.1f}/s  "
            f"FD {row.get('fd', float('nan')):6.2f}{accuracy}  "
            f"classes {row.get('class_coverage')}/{row.get('class_total')}{low}{nll}  "
            f"reports {row['report_share']:.0%} of wall  "
            f"snapshot {row['snapshot_s']:.2f} s  final eval {row['final_eval_s']:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--only", action="append")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--data", help="another image set (default: the 28x28 digits)")
    parser.add_argument("--rgb", action="store_true", help="the 32x32 colour digits")
    parser.add_argument("--grids", help="save FAMILY.png sample grids here")
    parser.add_argument("--tutorial", action="store_true", help="also the pytorch/examples VAE, same data and seconds")
    args = parser.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    if args.tutorial:
        import torch

        from genstudio import data as data_sets
        torch.set_num_threads(1)
        row = tutorial_vae(data_sets.load(args.data or digits28_path(rgb=args.rgb)), args.seconds)
        print(f"tutorial VAE {row['steps']:>7} steps  {row['steps_per_s']:7.1f}/s  nll {row['nll_nats']:.1f}",
              flush=True)
    data_path = args.data or (digits28_path(rgb=True) if args.rgb else None)
    for family in args.only or ("vae", "gan", "diffusion", "ar"):
        grid = os.path.join(args.grids, f"{family}.png") if args.grids else None
        print(describe(train(family, args.seconds, overrides, data_path, grid)), flush=True)


if __name__ == "__main__":
    main()
