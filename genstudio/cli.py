"""The command line: train, sample (headless), bench and gui. Bad input: one line on stderr, exit code 2, nothing written."""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import signal
import sys
from dataclasses import replace

from . import __version__
from .config import DEVICES, FAMILIES, FAMILY_CONFIGS, ConfigError, Experiment, default_experiment
from .data import DATASETS

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _key_value(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genstudio", description="Watch generative models learn. With no command: the studio window.")
    parser.add_argument("--version", action="version", version=f"genstudio {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    knobs = "; ".join(f"{fam}: {', '.join(f.name for f in cls.knobs())}" for fam, cls in FAMILY_CONFIGS.items())
    train = sub.add_parser("train", help="train one model and write a run folder",
                           description="Train one model; writes config.json, model.safetensors, metrics.csv, "
                                       "samples.png and summary.json into --out.",
                           epilog=f"Family options for --set ({knobs}).")
    train.add_argument("--model", required=True, help=f"family: {', '.join(FAMILIES)}")
    train.add_argument("--data", required=True, help=f"data set: {', '.join(DATASETS)}")
    train.add_argument("--steps", type=_positive_int, help="stop after this many optimisation steps")
    train.add_argument("--seconds", type=_positive_float, help="stop after this many seconds of training")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} (auto: cuda, then mps, then cpu)")
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--lr", type=_positive_float, help="learning rate")
    train.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: cores - 1)")
    train.add_argument("--set", dest="overrides", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE", help="a family option, e.g. --set beta=4 (repeatable)")
    train.add_argument("--eval-every", type=_positive_float, metavar="SECONDS",
                       help="also evaluate the metrics periodically (they are always evaluated at the end)")
    train.add_argument("--log-every", type=_positive_int, default=10, metavar="STEPS",
                       help="steps per metrics.csv row (default 10)")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    gui = sub.add_parser("gui", help="open the studio window (the default with no command)")
    gui.add_argument("--self-test", action="store_true",
                     help="train every family for a few seconds in the real window and exit 0 when all is well")
    gui.add_argument("--screenshots", metavar="DIR", help="with --self-test: save FAMILY-PANEL.png files here")

    sample = sub.add_parser("sample", help="draw samples from a trained run")
    sample.add_argument("run", help="a run folder written by `genstudio train`")
    sample.add_argument("--n", type=_positive_int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default="auto")
    sample.add_argument("--out", required=True, help="PNG file to write")

    sub.add_parser("bench", help="measure speed and quality side by side (benchmarks/bench.py; --help there)",
                   add_help=False)  # main() hands every argument after `bench` to the bench itself
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        from benchmarks.bench import main as bench_main
        return bench_main(argv[1:])
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            args = parser.parse_args(["gui"])
        return {"train": cmd_train, "sample": cmd_sample, "gui": cmd_gui}[args.command](args)
    except (UsageError, ConfigError) as exc:
        print(f"genstudio: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


# train ----------------------------------------------------------------------------------------

def _experiment(args) -> Experiment:
    base = default_experiment(args.model, args.data)  # checks the model and data names
    pairs = dict(args.overrides)
    for value, key in ((args.batch_size, "batch_size"), (args.lr, "lr")):
        if value is not None:
            pairs[key] = str(value)
    family = FAMILY_CONFIGS[args.model].from_strings(pairs, base=base.family)
    return replace(base, family=family, steps=args.steps, seconds=args.seconds, seed=args.seed,
                   device=args.device, threads=args.threads)


def _check_out(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"--out {path!r} is a file, not a folder")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) and os.path.exists(parent):
        raise ConfigError(f"--out {path!r}: {parent!r} is not a folder")


def cmd_train(args) -> int:
    from .engine.trainer import Cadence, Trainer  # torch loads here, after the arguments are checked

    exp = _experiment(args)
    _check_out(args.out)
    trainer = Trainer(exp, Cadence(snapshot_s=None, eval_s=args.eval_every))  # validates device and data
    os.makedirs(args.out, exist_ok=True)
    return _run(trainer, args)


def _run(trainer, args) -> int:
    from .engine import checkpoint, render
    from .engine.device import describe
    from .engine.events import Diverged, Finished, LossPoints, Metrics
    from .engine.io import write_text

    exp, out = trainer.exp, args.out
    checkpoint.save_config(exp, out)
    rows = _CsvRows(trainer.loss_names, args.log_every)
    bar = _progress(exp, args.quiet)
    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop())  # Ctrl+C: stop and save
    final_metrics, diverged, finished = {}, None, None
    try:
        for event in trainer.run():
            if isinstance(event, LossPoints):
                rows.add(event)
                if bar is not None and len(event.steps):
                    bar.n = trainer.step if exp.steps else min(round(trainer.seconds, 1), bar.total)
                    bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in event.values.items()}, refresh=True)
            elif isinstance(event, Metrics):
                final_metrics = event.values
                if bar is not None and not args.quiet:
                    bar.write(f"step {event.step}: " + _short(event.values))
            elif isinstance(event, Diverged):
                diverged = event
            elif isinstance(event, Finished):
                finished = event
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    write_text(os.path.join(out, "metrics.csv"), rows.text())
    summary = {"model": exp.model, "data": exp.data, "device": describe(trainer.device), "steps": trainer.step,
               "seconds": round(trainer.seconds, 3),
               "steps_per_s": round(trainer.step / trainer.seconds, 2) if trainer.seconds else 0.0,
               "metrics": final_metrics}
    if diverged is not None:
        summary["steps"] = diverged.step - 1  # the trainer notices at its next read of the losses
        summary["status"] = f"diverged at step {diverged.step}"
        write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2) + "\n")
        print(f"genstudio: training diverged at step {diverged.step} (losses {diverged.losses}); "
              f"kept config.json and metrics.csv up to step {diverged.step - 1}", file=sys.stderr)
        return EXIT_DIVERGED
    summary["status"] = f"finished ({finished.reason})"
    checkpoint.save_weights(trainer.model, os.path.join(out, checkpoint.WEIGHTS_FILE))
    render.save_png(render.render_samples(trainer.snapshot().samples, trainer.dataset), os.path.join(out, "samples.png"))
    write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(f"{trainer.step} steps in {trainer.seconds:.1f} s ({summary['steps_per_s']} it/s) on "
              f"{summary['device']}; {_short(final_metrics)}; wrote {out}")
    return 0


def _short(values: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in values.items() if not isinstance(v, list))


def _progress(exp, quiet):
    if quiet:
        return None
    from tqdm import tqdm
    if exp.steps:
        return tqdm(total=exp.steps, unit="step", dynamic_ncols=True)
    return tqdm(total=exp.seconds, unit="s", dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")


class _CsvRows:
    """metrics.csv: one row per `every` steps, the mean of each loss term over those steps."""

    def __init__(self, names, every):
        self.names, self.every = names, every
        self.buf = io.StringIO()
        self.writer = csv.writer(self.buf, lineterminator="\n")
        self.writer.writerow(["step", "seconds", *names])
        self.pending: list = []

    def add(self, points):
        import numpy as np
        for i, step in enumerate(points.steps):
            self.pending.append((points.seconds[i], [points.values[k][i] for k in self.names]))
            if step % self.every == 0:
                vals = np.mean([p[1] for p in self.pending], axis=0)
                self.writer.writerow([int(step), f"{points.seconds[i]:.3f}", *(f"{v:.6g}" for v in vals)])
                self.pending = []

    def text(self):
        return self.buf.getvalue()


def cmd_gui(args) -> int:
    from .ui.app import run
    return run(self_test=args.self_test, screenshots=args.screenshots)


# sample ---------------------------------------------------------------------------------------

def cmd_sample(args) -> int:
    import torch

    from .engine import checkpoint, render
    from .engine.device import resolve_device

    if os.path.isdir(args.out):
        raise ConfigError(f"--out {args.out!r} is a folder; give a PNG file name")
    device = resolve_device(args.device)
    exp, model, ds = checkpoint.load_run(args.run, device)
    gen = torch.Generator(device).manual_seed(args.seed)
    samples = model.decode(model.sample(model.make_noise(args.n, gen)), ds)
    render.save_png(render.render_samples(samples, ds), args.out)
    print(f"wrote {args.n} samples of {exp.model} on {exp.data} to {args.out}")
    return 0
