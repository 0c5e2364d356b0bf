"""Every family trains on imported images of the shapes the importers produce (28x28 grey, 16x16
RGB) and draws samples of that shape; a labelled import gets the image metrics."""
from __future__ import annotations

import numpy as np
import pytest

from genstudio.config import FAMILIES, default_experiment
from genstudio.engine.trainer import Cadence, Trainer

TINY = {"gan": {"width": 8}, "vae": {"width": 16}, "diffusion": {"width": 8, "sample_steps": 2, "batch_size": 8},
        "ar": {"n_embd": 16, "n_layer": 1, "batch_size": 4}}
SHAPES = {"grey28.npy": (40, 28, 28), "rgb16.npy": (40, 16, 16, 3)}


@pytest.mark.parametrize("file", sorted(SHAPES))
@pytest.mark.parametrize("model", FAMILIES)
def test_train_on_imported_images(tmp_path, model, file):
    from dataclasses import replace

    rng = np.random.default_rng(0)
    np.save(tmp_path / file, (rng.random(SHAPES[file]) * 255).astype(np.uint8))
    exp = default_experiment(model, str(tmp_path / file), device="cpu", threads=1)
    exp = replace(exp, family=replace(exp.family, **TINY[model]))
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False, snapshot_count=4))
    list(trainer.run(steps=2))
    samples = trainer.snapshot().samples
    size = SHAPES[file][1]
    channels = 3 if len(SHAPES[file]) == 4 else 1
    assert samples.shape == (4, channels, size, size)
    assert np.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1


def test_a_labelled_import_gets_frechet_distance_and_coverage(tmp_path):
    from dataclasses import replace

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 90)
    images = np.zeros((90, 8, 8), np.uint8)
    for i, y in enumerate(labels):  # class = which third of the rows is bright
        images[i, 3 * y:3 * y + 2] = 255
    np.savez(tmp_path / "bars.npz", x=images, y=labels)
    exp = default_experiment("vae", str(tmp_path / "bars.npz"), device="cpu", threads=1)
    trainer = Trainer(replace(exp, family=replace(exp.family, width=32)), Cadence(snapshot_s=None))
    metrics = [e for e in trainer.run(steps=300) if type(e).__name__ == "Metrics"][-1].values
    assert {"fd", "class_coverage", "confidence"} <= set(metrics)
    assert metrics["class_coverage"] == 3  # a VAE this easy covers all three bars
