"""Quality targets for the 2D toy sets and the digits (docs/metrics.md), measured on this machine: prints a table.

    python -m genstudio.bench.targets                 # every target (about 25 minutes on 2 CPU cores)
    python -m genstudio.bench.targets --only gan-ring8 --seeds 0 --set width=64

Each row trains with the family's default config for the data set, evaluates every few seconds of
training time (evaluation time excluded) and reports the final metrics and the first time the
target was met.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace

from genstudio import data as data_sets
from genstudio.config import FAMILY_CONFIGS, default_experiment
from genstudio.engine.evaluate import real_floor
from genstudio.engine.events import Finished, Metrics
from genstudio.engine.trainer import Cadence, Trainer


@dataclass(frozen=True)
class Target:
    model: str
    data: str
    seconds: float
    modes: int | None = None      # 2D: modes captured at least
    hq: float | None = None       # 2D: HQ fraction at least

    @property
    def name(self):
        return f"{self.model}-{self.data}"

    def met(self, m: dict) -> bool:
        if self.modes is None:
            return False
        return m.get("modes_captured", 0) >= self.modes and m.get("hq_fraction", 0) >= self.hq


TARGETS = [
    Target("gan", "ring8", 60, modes=8, hq=0.90),
    Target("gan", "grid25", 120, modes=24, hq=0.85),
    Target("diffusion", "ring8", 60, modes=8, hq=0.90),
    Target("diffusion", "grid25", 120, modes=24, hq=0.85),
    Target("vae", "digits", 120),
    Target("diffusion", "digits", 120),
    Target("gan", "digits", 120),
    Target("ar", "digits", 120),
]


def run(target: Target, seed: int, overrides: dict, eval_s: float | None, threads: int,
        stop_when_met: bool = False) -> dict:
    """Train one target; `stop_when_met`: stop at the first evaluation that meets it (time to quality)."""
    exp = default_experiment(target.model, target.data, seconds=target.seconds, seed=seed, threads=threads)
    if overrides:
        exp = replace(exp, family=FAMILY_CONFIGS[target.model].from_strings(overrides, base=exp.family))
    trainer = Trainer(exp, Cadence(snapshot_s=None, eval_s=eval_s))
    first_met, last, steps = None, {}, 0
    for event in trainer.run():
        if isinstance(event, Metrics):
            last = event.values
            if first_met is None and target.met(last):
                first_met = event.seconds
                if stop_when_met:
                    trainer.stop()
        elif isinstance(event, Finished):
            steps = event.step
    return {"target": target.name, "seed": seed, "steps": steps, "seconds": round(trainer.seconds, 1),
            "met_at_s": None if first_met is None else round(first_met, 1),
            "met_at_end": target.met(last) if target.modes else None, "metrics": last}


def fmt(row: dict) -> str:
    m = row["metrics"]
    if "modes_captured" in m:
        quality = (f"modes {m['modes_captured']}/{m['modes_total']}  HQ {m['hq_fraction']:.3f}  "
                   f"rKL {m['reverse_kl']:.3f}  ED {m['energy_distance']:.4f}")
        verdict = "MET" if row["met_at_end"] else "missed"
        when = f"first met at {row['met_at_s']} s" if row["met_at_s"] is not None else "never met"
        return f"{row['target']:<18} seed {row['seed']}  {row['steps']:>6} steps  {quality}  {verdict} at end, {when}"
    extra = "  ".join(f"{k} {m[k]:.3g}" for k in ("fd", "confidence", "nll_nats", "bits_per_dim") if k in m)
    return (f"{row['target']:<18} seed {row['seed']}  {row['steps']:>6} steps  "
            f"coverage {m.get('class_coverage')}/{m.get('class_total')}  {extra}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="target name, e.g. gan-ring8 (repeatable)")
    parser.add_argument("--seeds", default="0,1,2", help="seeds for the 2D targets (digits use the first)")
    parser.add_argument("--set", action="append", default=[], help="family option key=value")
    parser.add_argument("--seconds", type=float, help="override every target's time budget")
    parser.add_argument("--eval-every", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    started = time.time()
    print(f"# GenStudio quality targets, {time.strftime('%Y-%m-%d %H:%M')}")
    for target in TARGETS:
        if args.only and target.name not in args.only:
            continue
        if args.seconds:
            target = replace(target, seconds=args.seconds)
        for seed in (seeds if target.modes else seeds[:1]):
            row = run(target, seed, overrides, args.eval_every, args.threads)
            rows.append(row)
            print(fmt(row), flush=True)
    if any(r["target"].endswith("digits") for r in rows):
        floor = real_floor(data_sets.load("digits"))
        print(f"{'held-out real digits':<18} (floor)  coverage {floor['class_coverage']}/10  fd {floor['fd']:.3g}  "
              f"confidence {floor['confidence']:.3g}")
    print(f"# total {time.time() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
