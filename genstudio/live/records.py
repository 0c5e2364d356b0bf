"""Every run since the app started, as records (the runs table shows them): the settings that differ
between the runs, how far each trained, its final losses and metrics, and what it started from.

A run's record is made when a Run starts and kept after it ends (Reset, a new data set, closing the
second run), unless it never trained a step of its own. A record can be reopened: from its file when
it was saved or opened from one, from the kept state it was forked from, or else from step 0 with
its settings and seed (the same first weights; with settings unchanged during the run, the same curves).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import weakref
from dataclasses import dataclass, field

KEPT_STATES = 8        # ended runs whose starting state (a fork's kept state) is kept for reopening
RECENT_LOSSES = 100    # a run's final loss is the mean of its last this many points (one is noise)


def settings_of(exp) -> dict:
    """An experiment as flat name: value pairs (the family's settings under their own names)."""
    d = exp.to_dict()
    family = d.pop("family")
    for key in ("version", "steps", "seconds", "device", "threads"):
        d.pop(key, None)
    return {**d, **family}


def differing_settings(experiments) -> list[str]:
    """The setting names whose values are not the same in every experiment given (None: skipped)."""
    flat = [settings_of(e) for e in experiments if e is not None]
    return [k for k in _union(flat) if len({repr(f.get(k)) for f in flat}) > 1]


@dataclass
class RunRecord:
    number: int
    experiment: object                 # config.Experiment (live edits of the learning rate included)
    origin: str = ""                   # "" for a new run; "fork of run 2 at step 1,200", "opened x.genstudio", ...
    document: object = None            # the ExperimentFile it started from (a fork's kept state; no data), if any
    path: str | None = None            # its experiment file, once saved or opened
    forked_at: int | None = None       # the step of its original it was forked from (a fork)
    step: int = 0
    seconds: float = 0.0
    losses: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    run: object = None                 # weakref to the Run while this is its record

    def live_run(self):
        run = self.run() if self.run is not None else None
        return run if run is not None and run.record is self else None

    def update_from(self, run) -> None:
        """Take the run's progress (while this is its record)."""
        self.experiment = run.experiment or self.experiment
        self.step, self.seconds = run.step, run.seconds
        h = run.history
        recent = h.data[-RECENT_LOSSES:]
        if len(recent):
            self.losses = {name: float(recent[:, 2 + i].mean()) for i, name in enumerate(h.names)}
        if run.evaluations:   # the numbers (an image set's class histogram is a list: no column)
            self.metrics = {k: v for k, v in run.evaluations[-1].values.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)}


class RunLog:
    """The records of every run since the app started, numbered from 1."""

    def __init__(self):
        self.records: list[RunRecord] = []

    def start(self, run, experiment, origin: str = "", document=None) -> RunRecord:
        number = self.records[-1].number + 1 if self.records else 1
        if document is not None:   # the data is loaded again on reopening: an imported set is not held here
            document = dataclasses.replace(document, dataset=None)
        record = RunRecord(number, experiment, origin, document, run=weakref.ref(run))
        if document is not None:
            record.step, record.seconds = document.state.step, document.state.seconds
        self.records.append(record)
        return record

    def end(self, record: RunRecord, run) -> None:
        """The run has ended: keep how far it got; a run that never trained a step of its own (a
        setting changed before Train, a fork forked again) leaves no row."""
        record.update_from(run)
        record.run = None
        if record.path is not None:
            record.document = None   # reopened from its file
        elif record.step <= (record.document.state.step if record.document is not None else 0):
            self.records.remove(record)
        # an hour of forking keeps the newest ended runs' states only (each holds weights and a timeline);
        # an older one reopens from step 0 with its settings
        ended = [r for r in self.records if r.document is not None and r.run is None]
        for old in ended[:-KEPT_STATES]:
            old.document = None

    def find(self, number: int) -> RunRecord:
        return next(r for r in self.records if r.number == number)

    def refresh(self) -> None:
        for record in self.records:
            run = record.live_run()
            if run is not None:
                record.update_from(run)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Column names and one row of texts per run: the settings that differ, steps, seconds,
        final losses and metrics (each loss or metric a column; blank where a run has none)."""
        self.refresh()
        differ = differing_settings([r.experiment for r in self.records]) or ["model", "data"]
        losses, metrics = _union(r.losses for r in self.records), _union(r.metrics for r in self.records)
        header = ["run", "from", *differ, "steps", "seconds", *losses, *metrics]
        rows = []
        for r in self.records:
            settings = settings_of(r.experiment)
            rows.append([str(r.number), r.origin or "new", *(_text(settings.get(k, "")) for k in differ),
                         str(r.step), f"{r.seconds:.1f}", *(_number(r.losses.get(k)) for k in losses),
                         *(_number(r.metrics.get(k)) for k in metrics)])
        return header, rows

    def csv(self, numbers=None) -> str:
        header, rows = self.table()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row for row in rows if numbers is None or int(row[0]) in numbers)
        return out.getvalue()


def _union(dicts) -> list[str]:
    """Every key of the dicts, in the order first seen."""
    names: list[str] = []
    for d in dicts:
        names += [k for k in d if k not in names]
    return names


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}"


_LOG = RunLog()


def run_log() -> RunLog:
    """Every run since the app started."""
    return _LOG
