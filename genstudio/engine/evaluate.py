"""Periodic quality evaluation of a model on its data set (the metrics of summary.json)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..data import Dataset
from ..models import GenerativeModel
from . import metrics
from .classifier import features_and_probs, load_classifier

SAMPLES = {"points": 2500, "image": 500, "text": 500}
ENERGY_SAMPLES = 2000
LIKELIHOOD_CHUNK_VALUES = 2 ** 19


class Evaluator:
    def __init__(self, ds: Dataset, model: GenerativeModel, device: torch.device, n_samples: int | None = None):
        self.ds, self.model, self.device = ds, model, device
        self.n = n_samples or SAMPLES[ds.kind]
        self.held_out = model.encode_data(ds, "held_out").to(device)
        self.held_out_labels = torch.from_numpy(ds.held_out_labels).long().to(device) \
            if model.classes and ds.held_out_labels is not None else None
        self.classifier = None
        if ds.kind == "image" and ds.labels is not None:
            self.classifier = load_classifier(ds)
            self.real_features, _ = features_and_probs(self.classifier, ds.x)

    @torch.no_grad()
    def generate(self, n: int | None = None, seed: int = 1234):
        gen = torch.Generator(self.device).manual_seed(seed)
        noise = self.model.make_noise(n or self.n, gen)
        return self.model.decode(self.model.sample(noise), self.ds)

    def __call__(self) -> dict:
        asked = self.model.sample_labels(self.n).numpy() if self.model.classes else None
        return self.score(self.generate(), asked)

    def score(self, samples, asked: np.ndarray | None = None) -> dict:
        """The metrics of `samples`; `asked`: the class each was asked to be (a conditional model's
        samples), which adds the share the classifier agrees with (class_accuracy)."""
        ds, out = self.ds, {}
        if ds.kind == "points":
            if ds.modes is not None:
                out.update(metrics.mode_metrics(samples, ds.modes, ds.mode_std))
            out["energy_distance"] = metrics.energy_distance(samples[:ENERGY_SAMPLES], ds.held_out[:ENERGY_SAMPLES])
        elif ds.kind == "image" and self.classifier is not None:
            feats, probs = features_and_probs(self.classifier, samples)
            out["fd"] = metrics.frechet_distance(feats, self.real_features)
            out.update(metrics.class_metrics(probs))
            if asked is not None:
                out["class_accuracy"] = float(np.mean(probs.argmax(1) == asked))
        elif ds.kind == "text":
            known = set(ds.words)
            out["novel_fraction"] = float(np.mean([w not in known for w in samples]))
        out.update(self.likelihood())
        return out

    @torch.no_grad()
    def likelihood(self) -> dict:
        per_example = []
        # chunks of about half a million values: a 32x32 RGB chunk of 1024 held the transformer's
        # activations in gigabytes of memory, and took seconds longer than smaller ones
        chunk_size = max(32, min(1024, LIKELIHOOD_CHUNK_VALUES // self.model.spec.dim))
        labels = self.held_out_labels.split(chunk_size) if self.held_out_labels is not None else None
        for i, chunk in enumerate(self.held_out.split(chunk_size)):
            nll = self.model.nll(chunk) if labels is None else self.model.nll(chunk, labels[i])
            if nll is None:
                return {}
            per_example.append(nll)
        nats = float(torch.cat(per_example).mean())
        if self.ds.kind == "points":
            nats += 2 * math.log(self.ds.scale)  # density in data units, not standardised units
            return {"nll_nats": nats, "bits_per_dim": metrics.bits_per_dim(nats, 2)}
        if self.ds.kind == "text":
            predicted = float((self.held_out[:, 1:] >= 0).sum(1).float().mean())  # chars incl. the end
            return {"nll_nats": nats, "nats_per_char": nats / predicted,
                    "bits_per_dim": metrics.bits_per_dim(nats, predicted)}
        return {"nll_nats": nats, "bits_per_dim": metrics.bits_per_dim(nats, self.model.spec.dim)}


def real_floor(ds: Dataset) -> dict:
    """The same image metrics for held-out real data: the best a generator can hope for."""
    clf = load_classifier(ds)
    feats, probs = features_and_probs(clf, ds.held_out)
    real, _ = features_and_probs(clf, ds.x)
    return {"fd": metrics.frechet_distance(feats, real), **metrics.class_metrics(probs)}
