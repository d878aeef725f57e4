"""Batched greedy generation for the local endpoint: requests that arrive together (the evaluation asks a
batch of examples at once) are generated as one left-padded batch instead of one after another behind the
generation lock. Only greedy requests are batched (the same greedy output as one at a time; a sampled
request is answered alone). A request waits at most ``window`` seconds for company; the requests that come
while a batch is generating make up the next one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

#: what a request gets back (``generation.Generation`` on the endpoint)
Out = TypeVar("Out")

#: rows generated together at most (memory grows with rows × length)
MAX_BATCH = 16
#: how long the first request of a batch waits for others (seconds)
WINDOW = 0.01


@dataclass
class _Pending(Generic[Out]):
    prompt: list[int]
    max_tokens: int
    future: Future[Out]


class Batcher(Generic[Out]):
    """Collects concurrent greedy requests for ``generate_batch`` (prompts, each one's max tokens)."""

    def __init__(
        self,
        generate_batch: Callable[[Sequence[list[int]], Sequence[int]], list[Out]],
        *,
        max_batch: int = MAX_BATCH,
        window: float = WINDOW,
    ) -> None:
        self._generate_batch = generate_batch
        self.max_batch = max_batch
        self.window = window
        self._pending: list[_Pending[Out]] = []
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self.batches: list[int] = []  # each batch's size (tests and the benchmark read it)

    def generate(self, prompt: list[int], max_tokens: int) -> Out:
        item: _Pending[Out] = _Pending(prompt, max_tokens, Future())
        with self._cond:
            self._pending.append(item)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, name="ftbot-batcher", daemon=True)
                self._worker.start()
            self._cond.notify_all()
        return item.future.result()

    def _take(self) -> list[_Pending[Out]]:
        with self._cond:
            if not self._pending:
                self._cond.wait(1.0)
                if not self._pending:
                    return []
            if len(self._pending) < self.max_batch:
                self._cond.wait(self.window)  # a moment for the rest of a burst
            taken, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            return taken

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                with self._cond:
                    if not self._pending:
                        self._worker = None
                        return
                continue
            self.batches.append(len(batch))
            try:
                outs = self._generate_batch([p.prompt for p in batch], [p.max_tokens for p in batch])
            except BaseException as e:  # every waiting request gets the failure
                for p in batch:
                    p.future.set_exception(e)
                continue
            for p, out in zip(batch, outs, strict=True):
                p.future.set_result(out)
