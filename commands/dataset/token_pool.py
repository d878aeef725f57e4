"""Token counting for validation: examples batched, encoded in a small thread pool, in bounded memory.

Token counting is nearly all of validation's cost. Examples are queued into batches of about 256K
characters; each batch is encoded in one tiktoken call on a worker thread (tiktoken's core releases the
GIL while it encodes), with at most two batches per worker in flight, so memory stays flat however long
the file. System prompts and tool definitions, which repeat across examples, are counted once and cached.

Token counts follow the OpenAI cookbook's ``num_tokens_from_messages`` (the caller adds the per-message
overhead as a base count); special-token-looking text such as ``<|endoftext|>`` is counted as ordinary
text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson

from commands.dataset.tokens import ENCODINGS, Counter, ModelTokenizer, get_counter

_BATCH_TEXT_CHARS = 1 << 18
_CACHE_MAX = 4096
_SEP = "<|endoftext|>"
_ALLOWED = {_SEP}


def count_batch(core: Counter, eot: int, texts: list[str], ends: list[int], base: list[int]) -> list[int]:
    """Per-example token totals: ``base[i]`` plus the tokens of ``texts[ends[i-1]:ends[i]]``.

    The texts are joined with ``<|endoftext|>`` and encoded in one call with that special token allowed:
    tiktoken encodes the text between special tokens piece by piece, exactly as it would each text alone,
    so the separators give every text's count. One call per batch instead of one per message halves the
    Python overhead and holds the GIL once. A text that itself contains ``<|endoftext|>`` is counted alone,
    as ordinary text.
    """
    extra: dict[int, int] = {}
    if any(_SEP in t for t in texts):
        texts = list(texts)
        for i, t in enumerate(texts):
            if _SEP in t:
                extra[i] = len(core.encode_ordinary(t))
                texts[i] = ""  # pragma: no mutate (its count is replaced by extra[i] below)
    tokens = np.frombuffer(core.encode_to_tiktoken_buffer(_SEP.join(texts), _ALLOWED), dtype=np.uint32)
    bounds = np.empty(len(texts) + 1, dtype=np.int64)  # pragma: no mutate (float64 holds these exactly)
    bounds[0] = -1
    bounds[1:-1] = np.flatnonzero(tokens == eot)
    bounds[-1] = tokens.size
    per_text = np.diff(bounds) - 1
    for i, n in extra.items():
        per_text[i] = n
    cum = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(per_text, out=cum[1:])
    e = np.asarray(ends, dtype=np.int64)  # pragma: no mutate (a list of ints is int64 anyway)
    starts = np.empty_like(e)
    starts[0] = 0
    starts[1:] = e[:-1]
    # pragma: no mutate start (dtype: a list of ints is int64 anyway)
    totals: list[int] = (cum[e] - cum[starts] + np.asarray(base, dtype=np.int64)).tolist()
    # pragma: no mutate end
    return totals


def count_with_model(tokenizer: ModelTokenizer, examples: list[tuple[Any, list[str], int]]) -> list[int]:
    """Per-example totals with a base model's own tokenizer (its chat template), for one batch."""
    return [tokenizer.count(example, texts, base) for example, texts, base in examples]


class TokenPool:
    """Counts examples' tokens and hands each batch's totals, in file order, to ``on_counted``.

    Not thread-safe: one reader adds examples; the workers only ever see plain lists. ``drain`` waits for
    every count; ``close`` stops the workers (also after an error).
    """

    def __init__(
        self,
        encoding: str,
        workers: int,
        on_counted: Callable[[list[int], list[int]], None],
        *,
        tokenizer: ModelTokenizer | None = None,
    ) -> None:
        self.encoding = encoding
        self.tokenizer = tokenizer  # the base model's own tokenizer, when the backend supplies one
        self._examples: list[tuple[Any, list[str], int]] = []
        self.workers = workers
        self.on_counted = on_counted
        self.eot = ENCODINGS[encoding][2][_SEP]
        self._core: Counter | None = None
        self._cache: dict[str, int] = {}
        # the batch being built: texts to encode, per-example end index, base count, line number
        self._texts: list[str] = []
        self._ends: list[int] = []
        self._base: list[int] = []
        self._lines: list[int] = []
        self._chars = 0
        self._pending: deque[tuple[Future[list[int]], list[int]]] = deque()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def core(self) -> Counter:
        if self._core is None:
            self._core = get_counter(self.encoding)
        return self._core

    def _cached(self, text: str) -> int:
        """Token count of a text that tends to repeat (system prompt, tool definitions)."""
        # pragma: no mutate start (`add` calls this for uncached texts while the cache has room)
        n = self._cache.get(text)
        # pragma: no mutate end
        if n is None:
            n = len(self.core.encode_ordinary(text))
            if len(self._cache) < _CACHE_MAX:  # pragma: no mutate (<=: see above, never full here)
                self._cache[text] = n
        return n

    def add(
        self, line: int, chars: int, base: int, texts: list[str], shared: list[Any], example: Any = None
    ) -> None:
        """Queue one example: ``base`` tokens plus those of ``texts`` and of ``shared`` (texts or JSON
        values that repeat across examples). ``chars`` is its size, for batching. With a model tokenizer,
        ``example`` (the parsed line) is counted by it instead."""
        if self.tokenizer is not None:
            shared_texts = [s if type(s) is str else orjson.dumps(s).decode() for s in shared]
            self._examples.append((example, texts + shared_texts, base))
            self._lines.append(line)
            self._chars += chars
            if self._chars >= _BATCH_TEXT_CHARS:
                self._submit()
            return
        cache = self._cache
        for s in shared:
            text = s if type(s) is str else orjson.dumps(s).decode()
            n = cache.get(text)  # pragma: no mutate (None: `_cached` or the batch gives the same count)
            if n is not None:
                base += n
            elif len(cache) < _CACHE_MAX:
                base += self._cached(text)
            else:  # the cache is full of other prompts: count it with the rest, in the pool
                texts.append(text)
        self._texts.extend(texts)
        self._ends.append(len(self._texts))
        self._base.append(base)
        self._lines.append(line)
        self._chars += chars
        if self._chars >= _BATCH_TEXT_CHARS:
            self._submit()

    def _submit(self) -> None:
        if self.tokenizer is not None:
            self._submit_examples(self.tokenizer)
            return
        if not self._ends:
            return
        texts, ends, base, lines = self._texts, self._ends, self._base, self._lines
        self._texts, self._ends, self._base, self._lines, self._chars = [], [], [], [], 0
        if self.workers <= 1:
            self.on_counted(count_batch(self.core, self.eot, texts, ends, base), lines)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ftbot-tokens")
        self._pending.append((self._pool.submit(count_batch, self.core, self.eot, texts, ends, base), lines))
        while len(self._pending) > 2 * self.workers:
            fut, lns = self._pending.popleft()
            self.on_counted(fut.result(), lns)

    def _submit_examples(self, tokenizer: ModelTokenizer) -> None:
        if not self._examples:
            return
        examples, lines = self._examples, self._lines
        self._examples, self._lines, self._chars = [], [], 0
        if self.workers <= 1:
            self.on_counted(count_with_model(tokenizer, examples), lines)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="ftbot-tokens")
        self._pending.append((self._pool.submit(count_with_model, tokenizer, examples), lines))
        while len(self._pending) > 2 * self.workers:
            fut, lns = self._pending.popleft()
            self.on_counted(fut.result(), lns)

    def drain(self) -> None:
        """Count what is queued and wait for every batch in flight."""
        self._submit()
        while self._pending:
            fut, lns = self._pending.popleft()
            self.on_counted(fut.result(), lns)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
