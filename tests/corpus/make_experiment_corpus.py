"""Writes tests/corpus/experiments/: experiment files that must be refused with one clear message.

    python tests/corpus/make_experiment_corpus.py

Each file is small. pickle-payload.genstudio would create a file named genstudio-pwned.txt in the
current folder if anything unpickled it: the tests check that nothing does.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
import zipfile

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "experiments")


class Payload:
    """Unpickling this calls open("genstudio-pwned.txt", "w"): a harmless proof that code ran."""

    def __reduce__(self):
        return (open, ("genstudio-pwned.txt", "w"))


def good_file(path: str, drop_weights: bool = False, history=None) -> None:
    from dataclasses import replace

    from genstudio.config import default_experiment
    from genstudio.engine import experiment_file
    from genstudio.engine.trainer import Cadence, Trainer

    exp = default_experiment("vae", "ring8", threads=1)
    exp = replace(exp, family=replace(exp.family, width=8, depth=1))
    trainer = Trainer(exp, Cadence(snapshot_s=None, evaluate_at_end=False))
    state = trainer.state()
    if drop_weights:
        state = replace(state, tensors={k: v for k, v in state.tensors.items() if not k.startswith("model.")})
    doc = experiment_file.ExperimentFile(exp, state)
    experiment_file.save(path, doc if history is None else replace(doc, history=history))


def with_header(src: str, dst: str, edit, literal: tuple[str, str] | None = None) -> None:
    """Rewrite a safetensors file's JSON header (8-byte little-endian length, then the JSON);
    `literal`: (what to find, what to put) in the header's text as it is: a number JSON can write but
    Python's json does not (the experiment's own JSON is a string inside the header's)."""
    raw = open(src, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    if literal is not None:
        assert literal[0].encode() in text
        text = text.replace(literal[0].encode(), literal[1].encode())
    text += b" " * (-len(text) % 8)
    open(dst, "wb").write(len(text).to_bytes(8, "little") + text + raw[8 + n:])


def main() -> None:
    os.makedirs(HERE, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    good = os.path.join(HERE, ".good.tmp")
    good_file(good)
    raw = open(good, "rb").read()

    def newer(h):
        meta = json.loads(h["__metadata__"]["genstudio"])
        meta["version"] = 99
        h["__metadata__"]["genstudio"] = json.dumps(meta)

    def garbled(h):
        h["__metadata__"]["genstudio"] = "{not json"

    def foreign(h):
        del h["__metadata__"]["genstudio"]

    def meta_edit(change):
        def edit(h):
            meta = json.loads(h["__metadata__"]["genstudio"])
            change(meta)
            h["__metadata__"]["genstudio"] = json.dumps(meta)
        return edit

    # well-formed files whose values are hostile: each once ended in a traceback or worse
    with_header(good, os.path.join(HERE, "negative-step.genstudio"), meta_edit(lambda m: m.update(step=-1)))
    with_header(good, os.path.join(HERE, "infinite-step.genstudio"),
                meta_edit(lambda m: m.update(step="STEP")), ('\\"STEP\\"', "1e999"))
    with_header(good, os.path.join(HERE, "text-seed.genstudio"),
                meta_edit(lambda m: m["experiment"].update(seed="7")))
    with_header(good, os.path.join(HERE, "million-threads.genstudio"),
                meta_edit(lambda m: m["experiment"].update(threads=1_000_000)))
    with_header(good, os.path.join(HERE, "long-number.genstudio"),
                meta_edit(lambda m: m["experiment"]["family"].update(lr="LR")), ('\\"LR\\"', "9" * 5000))
    with_header(good, os.path.join(HERE, "text-held-out.genstudio"),
                meta_edit(lambda m: m["history"].update(held_out=[[5, 0.5, "1.2", 2.0, None]])))
    import numpy as np
    from genstudio.engine.experiment_file import History
    good_file(os.path.join(HERE, "uneven-history.genstudio"),
              history=History(np.arange(3), np.zeros(3), {"loss": np.zeros(2)}))
    with_header(good, os.path.join(HERE, "newer-version.genstudio"), newer)
    with_header(good, os.path.join(HERE, "garbled-header.genstudio"), garbled)
    with_header(good, os.path.join(HERE, "plain-safetensors.genstudio"), foreign)
    good_file(os.path.join(HERE, "missing-weights.genstudio"), drop_weights=True)
    open(os.path.join(HERE, "truncated.genstudio"), "wb").write(raw[:len(raw) * 2 // 3])
    open(os.path.join(HERE, "header-only.genstudio"), "wb").write(raw[:6])
    open(os.path.join(HERE, "empty.genstudio"), "wb").close()
    open(os.path.join(HERE, "pickle-payload.genstudio"), "wb").write(pickle.dumps(Payload()))
    # the same payload the way torch.save writes it (a zip holding data.pkl)
    with zipfile.ZipFile(os.path.join(HERE, "torch-save-payload.genstudio"), "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(Payload()))
        z.writestr("archive/version", "3\n")
    os.unlink(good)


if __name__ == "__main__":
    main()
