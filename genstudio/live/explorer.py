"""The explorer thread: one per run, answering the views' requests with a weights-only replica.

The shape is napari's _LayerSlicer: the GUI thread submits small frozen requests; one thread
answers, the cheapest waiting request first (Request.priority), and between the chunks of a long
answer (and at its pauses) it answers waiting ones that cost no more; a newer request for the same
control replaces a pending one and cuts a running one short at its next chunk or pause; answers go
back with the request's id and the view drops stale ids.
Like the training thread it never touches Qt (ui/threads.py): answers leave through `post`.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import traceback


class Explorer:
    def __init__(self, experiment, dataset, post, beside_training_process: bool = False):
        """`post(answer)`: called from the explorer thread with each Answer (make it thread-safe).
        `beside_training_process`: training runs in another process; the explorer's torch takes the
        cores it leaves (set in the explorer thread, which imports torch: the GUI thread never does)."""
        self.experiment, self.dataset, self.post = experiment, dataset, post
        self.beside_training_process = beside_training_process
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._pending: dict[str, object] = {}    # control -> newest request not yet started
        self._newest: dict[str, int] = {}        # control -> id of its newest request
        self._weights = None                     # newest weights not yet loaded
        self._stopped = False
        self.weights_step: int | None = None     # the step of the weights last loaded (explorer thread)
        self._thread = threading.Thread(target=self._run, name="genstudio-explorer", daemon=True)
        self._thread.start()

    # from the GUI thread -----------------------------------------------------------------------
    def submit(self, request):
        """Queue `request` (it supersedes the same control's older one); returns it with its id."""
        with self._cond:
            request = dataclasses.replace(request, id=next(self._ids))
            self._pending[request.control] = request
            self._newest[request.control] = request.id
            self._cond.notify()
        return request

    def set_weights(self, weights) -> None:
        with self._cond:
            self._weights = weights
            self._cond.notify()

    def is_current(self, answer) -> bool:
        """Whether an answer is for its control's newest request (stale ones are dropped)."""
        return self._newest.get(answer.request.control) == answer.request.id

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # the thread ----------------------------------------------------------------------------------
    def _superseded(self, request) -> bool:
        return self._stopped or self._newest.get(request.control) != request.id

    def _take(self, at_most: float = math.inf):
        """The cheapest waiting request (the oldest of those) if it costs at most `at_most`, else None."""
        with self._cond:
            waiting = [c for c in self._pending if self._pending[c].priority <= at_most]
            if not waiting:
                return None
            return self._pending.pop(min(waiting, key=lambda c: self._pending[c].priority))

    def _answer(self, replica, request) -> None:
        """Post `request`'s answer chunk by chunk. Between chunks and at its pauses, waiting requests that
        cost no more are answered first (with the same weights): a click is not held back by a long
        trajectory, nor a class just picked by a batch that the last weights asked for."""
        try:
            for answer in replica.answer(request):
                if self._superseded(request):
                    return
                if answer is not None:
                    self.post(answer)
                if answer is None or not answer.done:
                    while (first := self._take(at_most=request.priority)) is not None:
                        self._answer(replica, first)
        except Exception as exc:
            self._fail(request, exc, replica.step)

    def _fail(self, request, exc: Exception, step: int | None = None) -> None:
        """The view shows one line; the next request starts afresh."""
        from ..engine.requests import Answer, ExplorerError

        if not isinstance(exc, ExplorerError):
            traceback.print_exc()
            exc = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if request is not None:
            self.post(Answer(request, -1 if step is None else step, error=str(exc)))

    def _run(self) -> None:
        import torch

        from ..engine.explorer import Replica

        torch.set_grad_enabled(False)  # grad mode is per thread
        if self.beside_training_process:
            from ..engine.device import default_threads, spare_threads
            torch.set_num_threads(spare_threads(self.experiment.threads or default_threads()))
        replica = None
        while True:
            with self._cond:
                while not (self._stopped or self._pending or self._weights is not None):
                    self._cond.wait()
                if self._stopped:
                    return
                weights, self._weights = self._weights, None
            request = self._take()
            try:
                if replica is None:
                    replica = Replica(self.experiment, self.dataset)
                if weights is not None:
                    replica.load(weights)
                    self.weights_step = weights.step
            except Exception as exc:
                self._fail(request, exc)
                continue
            if request is not None:
                self._answer(replica, request)
