"""Class-conditional diffusion and flow matching, measured: what guidance trades (class accuracy against
FD over several scales, one trained model: diffusion's, or the transformer's), and flow matching
against DDPM noise prediction at equal training time (quality at 5 to 50 sampling steps; on 2D data,
how straight the sampling paths are).

    python -m genstudio.bench.conditional [--seconds 300] [--only guidance|flow] [--data PATH] [--family ar]

`genstudio bench --only conditional` prints the same rows."""
from __future__ import annotations

import argparse
import dataclasses

GUIDANCE_SCALES = (0.0, 1.0, 1.5, 2.0, 3.0, 5.0)
SAMPLING_STEPS = (5, 10, 20, 50)
SAMPLERS = {"eps": "ddim", "flow": "euler"}


def trained(data: str, seconds: float, samples: int | None = None, family: str = "diffusion", **knobs):
    """A Trainer that trained a `family` model with `knobs` on `data` for `seconds` on one thread, with
    the window's cadence (`samples`: how many its evaluations draw, instead of the evaluator's own
    number)."""
    from .images28 import trained as images_trained

    trainer, _ = images_trained(family, seconds, {k: str(v) for k, v in knobs.items()}, data)
    trainer.evaluator.n = samples or trainer.evaluator.n
    return trainer


def guidance_curve(data: str, seconds: float, scales=GUIDANCE_SCALES, samples: int | None = None,
                   family: str = "diffusion") -> tuple[dict, list[dict]]:
    """A conditional `family` model (diffusion or the transformer) trained on `data`, then sampled (best
    held-out weights) at each guidance scale: (the run's facts, [{"guidance", "class_accuracy", "fd",
    "class_coverage"}, ...])."""
    trainer = trained(data, seconds, samples, family, condition="class")
    base, curve = trainer.model.cfg, []
    with trainer.best_weights() as best_step:
        for scale in scales:
            trainer.model.cfg = dataclasses.replace(base, guidance=scale)
            m = trainer.evaluate().values
            curve.append({"guidance": scale, **{k: m[k] for k in ("class_accuracy", "fd", "class_coverage")}})
    trainer.model.cfg = base
    return {"steps": trainer.step, "steps_per_s": trainer.step / trainer.seconds, "best_step": best_step,
            "default_guidance": base.guidance}, curve


def sampler_quality(trainer, steps: int) -> dict:
    """The trained model's samples with `steps` steps of its objective's sampler: the evaluator's
    metrics, and on 2D data the sampling paths' straightness (path length over start-to-end distance)."""
    import torch

    from genstudio.engine.explorer import path_straightness

    model = trainer.model
    cfg = model.cfg
    model.cfg = dataclasses.replace(cfg, sample_steps=steps)
    try:
        with trainer.best_weights():
            out = trainer.evaluate().values
            if model.spec.kind == "points":
                noise = model.make_noise(1000, torch.Generator().manual_seed(7))
                frames = [noise]
                for _, step in model.denoise(noise, generator=torch.Generator().manual_seed(8)):
                    frames.append(step.prev_sample)
                out["straightness"] = path_straightness(torch.stack(frames).numpy())
    finally:
        model.cfg = cfg
    return out


def flow_against_ddpm(data: str, seconds: float, steps=SAMPLING_STEPS, samples: int | None = None) -> dict:
    """{objective: {"steps_per_s", "by_steps": {n: metrics}}} for DDPM noise prediction (sampled with
    DDIM) and flow matching (sampled with Euler), each trained `seconds` on `data`."""
    out = {}
    for objective, sampler in SAMPLERS.items():
        trainer = trained(data, seconds, samples, objective=objective, sampler=sampler)
        out[objective] = {"steps_per_s": trainer.step / trainer.seconds,
                          "by_steps": {n: sampler_quality(trainer, n) for n in steps}}
    return out


def quality_text(m: dict) -> str:
    if "fd" in m:
        return f"FD {m['fd']:6.2f}"
    text = f"energy {m['energy_distance']:.4f}"
    if "modes_captured" in m:
        text += f" modes {m['modes_captured']} HQ {m['hq_fraction']:.2f}"
    return text + (f" straightness {m['straightness']:.3f}" if "straightness" in m else "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--only", choices=("guidance", "flow"))
    parser.add_argument("--family", choices=("diffusion", "ar"), default="diffusion", help="whose guidance")
    parser.add_argument("--data", action="append", help="data sets (default: the 28x28 digits; flow: ring8, "
                                                        "grid25 and the 28x28 digits)")
    args = parser.parse_args(argv)
    from .images28 import digits28_path

    if args.only != "flow":
        for data in args.data or [digits28_path()]:
            facts, curve = guidance_curve(data, args.seconds, family=args.family)
            print(f"guidance, {args.family}, {data}: {facts}")
            for point in curve:
                print(f"  guidance {point['guidance']:4.1f}  accuracy {point['class_accuracy']:.3f}  "
                      f"FD {point['fd']:6.2f}  classes {point['class_coverage']}", flush=True)
    if args.only != "guidance":
        for data in args.data or ["ring8", "grid25", digits28_path()]:
            result = flow_against_ddpm(data, args.seconds)
            for objective, r in result.items():
                print(f"{objective:>4} on {data}: {r['steps_per_s']:.1f} steps/s", flush=True)
                for n, m in r["by_steps"].items():
                    print(f"  {n:3d} steps  {quality_text(m)}", flush=True)


if __name__ == "__main__":
    main()
