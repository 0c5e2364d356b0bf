"""The command line: train, sample (headless), bench and gui. Bad input: one line on stderr, exit code 2,
nothing written."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import replace

from . import __version__
from .config import COLORS, DEVICES, FAMILIES, FAMILY_CONFIGS, IMAGE_SIZES, ConfigError, Experiment, default_experiment
from .data import DATASETS, REMOTE_DATASETS, looks_like_path
from .data.importers import DataError

EXIT_BAD_INPUT = 2
EXPERIMENT_FILE = "experiment.genstudio"
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
                                       "samples.png, summary.json and experiment.genstudio (everything, to resume "
                                       "or open in the window) into --out.",
                           epilog=f"Family options for --set ({knobs}).")
    train.add_argument("--model", help=f"family: {', '.join(FAMILIES)}")
    train.add_argument("--data", help=f"data set: {', '.join(DATASETS + REMOTE_DATASETS)} (downloaded once), or a "
                                      "file or folder: MNIST-style IDX (.gz), .npy/.npz, a folder of images "
                                      "(subfolders as labels), a .txt (one item per line, or free text), "
                                      "a .csv of 2D points")
    train.add_argument("--image-size", type=int, default=0, choices=IMAGE_SIZES, metavar="PIXELS",
                       help="imported or downloaded images: resize to 8, 16, 28 or 32 (0: their own size, up to 32)")
    train.add_argument("--color", default="auto", choices=COLORS, help="imported or downloaded images: grey or rgb")
    train.add_argument("--resume", metavar="FILE",
                       help="continue an experiment file (a run folder's experiment.genstudio, or one saved from the "
                            "window) where it stopped; --steps/--seconds then count from there")
    train.add_argument("--steps", type=_positive_int, help="stop after this many optimisation steps")
    train.add_argument("--seconds", type=_positive_float, help="stop after this many seconds of training")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} (auto: cuda, then mps, then cpu)")
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--lr", type=_positive_float, help="learning rate")
    train.add_argument("--threads", type=int, help="CPU threads for torch (0: cores - 1)")
    train.add_argument("--set", dest="overrides", type=_key_value, action="append", default=[],
                       metavar="KEY=VALUE", help="a family option, e.g. --set beta=4 (repeatable)")
    train.add_argument("--eval-every", type=_positive_float, metavar="SECONDS",
                       help="also evaluate the metrics periodically (they are always evaluated at the end)")
    train.add_argument("--held-out-every", type=_positive_float, default=2.0, metavar="SECONDS",
                       help="training seconds between points of the held-out curve (default 2; the measure "
                            "waits longer when it would take over 5%% of the time)")
    train.add_argument("--log-every", type=_positive_int, default=10, metavar="STEPS",
                       help="steps per metrics.csv row (default 10)")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    gui = sub.add_parser("gui", help="open the studio window (the default with no command)")
    gui.add_argument("--self-test", action="store_true",
                     help="train every family for a few seconds in the real window and exit 0 when all is well")
    gui.add_argument("--screenshots", metavar="DIR", help="with --self-test: save FAMILY-PANEL.png files here")
    gui.add_argument("path", nargs="?", metavar="FILE",
                     help="an experiment file, a lesson or data to open (`genstudio FILE` does the same)")

    sample = sub.add_parser("sample", help="draw samples from a trained run")
    sample.add_argument("run", help="a run folder written by `genstudio train`, or an experiment file")
    sample.add_argument("--n", type=_positive_int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default="auto")
    sample.add_argument("--class", dest="label", metavar="CLASS",
                        help="a class-conditional run: draw this class (its name or number; default: each in turn)")
    sample.add_argument("--guidance", type=float, help="a conditional diffusion or transformer run: the guidance "
                                                       "scale (default: the run's own)")
    sample.add_argument("--out", required=True, help="PNG file to write")

    sub.add_parser("install-desktop-entry",
                   help="Linux: list GenStudio in the desktop's menu and open .genstudio files with it")
    sub.add_parser("bench", help="measure speed and quality side by side (genstudio/bench; --help there)",
                   add_help=False)  # main() hands every argument after `bench` to the bench itself
    return parser


COMMANDS = ("train", "sample", "gui", "bench", "install-desktop-entry")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        try:
            from genstudio.bench.bench import main as bench_main
        except ImportError:  # the desktop bundle leaves the bench out
            print("genstudio: error: `bench` runs from a source install (docs/benchmarks.md)", file=sys.stderr)
            return EXIT_BAD_INPUT
        return bench_main(argv[1:])
    if argv[:1] in (["--self-test"], ["--screenshots"]):  # the packaged app's `GenStudio --self-test`
        argv = ["gui", *argv]
    elif argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):  # a double-click, "Open with"
        if not os.path.exists(argv[0]):
            print(f"genstudio: error: {argv[0]}: no such file, and not a command ({', '.join(COMMANDS)})",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        argv = ["gui", *argv]
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            args = parser.parse_args(["gui"])
        return {"train": cmd_train, "sample": cmd_sample, "gui": cmd_gui,
                "install-desktop-entry": cmd_install_desktop_entry}[args.command](args)
    except (UsageError, ConfigError, DataError) as exc:
        print(f"genstudio: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


# train ----------------------------------------------------------------------------------------

def _experiment(args) -> Experiment:
    if args.model is None or args.data is None:
        raise UsageError("the following arguments are required: --model, --data (or --resume FILE)")
    data = os.path.abspath(args.data) if looks_like_path(args.data) else args.data  # resolvable from anywhere
    base = default_experiment(args.model, data)  # checks the model and data names
    pairs = dict(args.overrides)
    for value, key in ((args.batch_size, "batch_size"), (args.lr, "lr")):
        if value is not None:
            pairs[key] = str(value)
    family = FAMILY_CONFIGS[args.model].from_strings(pairs, base=base.family)
    return replace(base, family=family, steps=args.steps, seconds=args.seconds, seed=args.seed or 0,
                   device=args.device, threads=args.threads or 0, data_size=args.image_size, data_color=args.color)


def _resumed(args):
    """(experiment file, experiment, steps, seconds) for --resume: the budget counts from where it stopped."""
    from .engine import experiment_file

    fixed = [flag for flag, value in (("--model", args.model), ("--data", args.data), ("--seed", args.seed),
                                      ("--batch-size", args.batch_size), ("--lr", args.lr),
                                      ("--set", args.overrides or None), ("--image-size", args.image_size or None),
                                      ("--color", None if args.color == "auto" else args.color)) if value is not None]
    if fixed:
        raise UsageError(f"--resume continues the file's experiment as it was; {', '.join(fixed)} cannot change it")
    doc = experiment_file.load(args.resume)
    exp, done = doc.experiment, doc.state
    steps, seconds = args.steps, args.seconds
    if steps is None and seconds is None:
        if exp.steps:
            steps = exp.steps - done.step
        elif exp.seconds:
            seconds = exp.seconds - done.seconds
        if not ((steps or 0) > 0 or (seconds or 0) > 0):
            raise UsageError(f"{os.path.basename(args.resume)}: its budget is used up ({done.step} steps, "
                             f"{done.seconds:.0f} s); give --steps or --seconds to train more")
    exp = replace(exp, device=args.device, threads=exp.threads if args.threads is None else args.threads)
    return doc, exp, steps, seconds


def _check_out(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"--out {path!r} is a file, not a folder")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) and os.path.exists(parent):
        raise ConfigError(f"--out {path!r}: {parent!r} is not a folder")


def _load_data(exp, quiet: bool):
    """The experiment's data; a downloadable set shows a progress bar on its first use."""
    from . import data

    bars: dict = {}

    def progress(done, total, name):
        if quiet:
            return
        if name not in bars:
            from tqdm import tqdm
            for bar in bars.values():
                bar.close()
            bars[name] = tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}", leave=False)
        bars[name].n = done
        bars[name].refresh()

    try:
        return data.load(exp.data, exp.data_size, exp.data_color, progress=progress)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    finally:
        for bar in bars.values():
            bar.close()


def cmd_train(args) -> int:
    from .engine.trainer import Cadence, Trainer  # torch loads here, after the arguments are checked

    doc = None
    if args.resume:
        doc, exp, steps, seconds = _resumed(args)
    else:
        exp = _experiment(args)
        steps, seconds = exp.steps, exp.seconds
    _check_out(args.out)
    dataset = doc.dataset if doc is not None and doc.dataset is not None else _load_data(exp, args.quiet)
    try:  # validates the device and that the model can take the data
        cadence = Cadence(snapshot_s=None, eval_s=args.eval_every, held_out_s=args.held_out_every)
        trainer = Trainer(exp, cadence, dataset=dataset,
                          state=doc.state if doc is not None else None,
                          fork_points=doc.fork_points if doc is not None else (),
                          held_out=doc.history.held_out if doc is not None else ())
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{os.path.basename(args.resume)}: {exc}") from None
    os.makedirs(args.out, exist_ok=True)
    return _run(trainer, args, steps, seconds, doc)


def _run(trainer, args, steps, seconds, doc=None) -> int:
    from .engine import checkpoint, experiment_file, render
    from .engine.device import describe
    from .engine.events import Diverged, Finished, HeldOut, LossPoints, Metrics
    from .storage import write_text

    exp, out = trainer.exp, args.out
    checkpoint.save_config(exp, out)
    rows = _CsvRows(trainer.loss_names, args.log_every, doc.history if doc is not None else None)
    held_out = list(doc.history.held_out) if doc is not None else []
    start_step, start_s = trainer.step, trainer.seconds
    bar = _progress(steps, seconds, args.quiet)
    previous = signal.signal(signal.SIGINT, lambda *_: trainer.stop())  # Ctrl+C: stop and save
    final_metrics, diverged, finished = {}, None, None
    evaluations = list(doc.history.metrics) if doc is not None else []
    try:
        for event in trainer.run(steps, seconds):
            if isinstance(event, LossPoints):
                rows.add(event)
                if bar is not None and len(event.steps):
                    bar.n = trainer.step - start_step if steps else min(round(trainer.seconds - start_s, 1), bar.total)
                    bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in event.values.items()}, refresh=True)
            elif isinstance(event, Metrics):
                final_metrics = event.values
                evaluations.append(event)
                if bar is not None and not args.quiet:
                    bar.write(f"step {event.step}: " + _short(event.values))
            elif isinstance(event, HeldOut):
                held_out.append(event)
            elif isinstance(event, Diverged):
                diverged = event
            elif isinstance(event, Finished):
                finished = event
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    rows.finish()
    write_text(os.path.join(out, "metrics.csv"), rows.text(held_out))
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
    final = trainer.snapshot()
    # the weights and samples a user takes away are the best held-out step's (makemore's habit); the
    # experiment file keeps the last state, so that a resumed run goes on exactly where it stopped
    with trainer.best_weights() as best_step:
        checkpoint.save_weights(trainer.model, os.path.join(out, checkpoint.WEIGHTS_FILE))
        best = final
        if best_step != trainer.step:
            best = trainer.snapshot()
            summary["last_metrics"], summary["metrics"] = final_metrics, trainer.evaluate().values
    if trainer.best is not None:
        summary["best_step"] = best_step
        summary["best_held_out"] = trainer.best.held_out
    render.save_png(render.render_samples(best.samples, trainer.dataset), os.path.join(out, "samples.png"))
    timeline = (doc.timeline if doc is not None else ()) + (final,)
    kept = (trainer.best_state,) if trainer.best_state is not None and best_step != trainer.step else ()
    experiment_file.save(os.path.join(out, EXPERIMENT_FILE), experiment_file.ExperimentFile(
        exp, trainer.state(), rows.history(evaluations, held_out), timeline,
        trainer.dataset if experiment_file.embeds_data(exp) else None, kept))
    write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(f"{trainer.step} steps in {trainer.seconds:.1f} s ({summary['steps_per_s']} it/s) on "
              f"{summary['device']}; {_short(final_metrics)}; wrote {out}")
    return 0


def _short(values: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in values.items() if not isinstance(v, list))


def _progress(steps, seconds, quiet):
    if quiet:
        return None
    from tqdm import tqdm
    if steps:
        return tqdm(total=steps, unit="step", dynamic_ncols=True)
    return tqdm(total=seconds, unit="s", dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]")


class _CsvRows:
    """metrics.csv: one row per `every` steps, the mean of each loss term over those steps (after the
    rows of a resumed run's history)."""

    def __init__(self, names, every, history=None):
        self.names, self.every = names, every
        self.rows: list[tuple[int, float, list[float]]] = []
        if history is not None and set(history.values) == set(names):
            for i, step in enumerate(history.steps):
                self.rows.append((int(step), float(history.seconds[i]), [float(history.values[k][i]) for k in names]))
        self.pending: list = []

    def add(self, points):
        import numpy as np
        for i, step in enumerate(points.steps):
            self.pending.append([points.values[k][i] for k in self.names])
            self.last = (int(step), float(points.seconds[i]))
            if step % self.every == 0:
                self.rows.append((int(step), float(points.seconds[i]), np.mean(self.pending, axis=0).tolist()))
                self.pending = []

    def finish(self):
        """The steps since the last row make one more row (their mean)."""
        import numpy as np
        if self.pending:
            self.rows.append((self.last[0], self.last[1], np.mean(self.pending, axis=0).tolist()))
            self.pending = []

    def text(self, held_out=()):
        from .engine.experiment_file import history_csv
        return history_csv(self.history((), held_out))

    def history(self, metrics, held_out=()):
        import numpy as np

        from .engine.experiment_file import History
        values = np.array([r[2] for r in self.rows], dtype=np.float64).reshape(len(self.rows), len(self.names))
        return History(np.array([r[0] for r in self.rows], np.int64), np.array([r[1] for r in self.rows]),
                       {k: values[:, i] for i, k in enumerate(self.names)}, tuple(metrics), tuple(held_out))


def cmd_install_desktop_entry(args) -> int:
    from .desktop_entry import install
    try:
        written = install()
    except OSError as exc:
        raise UsageError(f"could not write the desktop entry: {exc}") from exc
    print("\n".join(["Wrote:", *written]))
    return 0


def cmd_gui(args) -> int:
    from .ui.app import run
    return run(self_test=args.self_test, screenshots=args.screenshots, open_path=args.path)


# sample ---------------------------------------------------------------------------------------

def _class_index(text: str, names: tuple[str, ...], classes: int) -> int:
    """A class given by name or by number."""
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < classes:
        return int(text)
    raise ConfigError(f"--class {text!r}: choose one of {', '.join(names) or f'0 to {classes - 1}'}")


def cmd_sample(args) -> int:
    import torch

    from .engine import checkpoint, render
    from .engine.device import resolve_device

    if os.path.isdir(args.out):
        raise ConfigError(f"--out {args.out!r} is a folder; give a PNG file name")
    device = resolve_device(args.device)
    exp, model, ds = checkpoint.load_run(args.run, device)
    if (args.label is not None or args.guidance is not None) and not model.classes:
        raise ConfigError("--class and --guidance need a class-conditional run (trained with condition class "
                          "on data with labels)")
    if args.guidance is not None and not (exp.model == "diffusion" or getattr(model, "guidable", False)):
        raise ConfigError("--guidance is for diffusion runs, and transformers trained with label_dropout above 0")
    if args.guidance is not None:
        model.cfg = replace(model.cfg, guidance=args.guidance)
    labels = None
    if args.label is not None:
        label = _class_index(args.label, ds.label_names, model.classes)
        labels = torch.full((args.n,), label, device=device)
    gen = torch.Generator(device).manual_seed(args.seed)
    samples = model.decode(model.sample(model.make_noise(args.n, gen), labels=labels), ds)
    render.save_png(render.render_samples(samples, ds), args.out)
    print(f"wrote {args.n} samples of {exp.model} on {exp.data} to {args.out}")
    return 0
