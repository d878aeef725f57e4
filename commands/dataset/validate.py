"""Streaming JSONL dataset validation: every error with its line, warnings, token statistics, cost estimate.

The file is read in blocks and never held whole: memory stays flat apart from 12 bytes per example (a
64-bit line hash for duplicate and overlap detection, a 32-bit line number) plus 4 bytes per token count.
The main thread parses (orjson) and checks each line (``rules``); token counting, which is nearly all of
the cost, runs in a small thread pool (``token_pool``); ``report_builder`` counts and assembles the report.

Token counts follow the OpenAI cookbook's ``num_tokens_from_messages``: 3 per message, the tokens of
every text value (role, content, name), 1 more for ``name``, 3 per example; tool calls, ``function_call``
and the top-level ``tools``/``functions`` count as their JSON text. Special-token-looking text such as
``<|endoftext|>`` is counted as ordinary text.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

import orjson

from commands.dataset.report import DatasetFormat, ValidationReport
from commands.dataset.report_builder import ReportBuilder, billed_tokens, default_epochs
from commands.dataset.rules import ChatRules, ExampleRules, PreferenceRules, TextRules, describe
from commands.dataset.token_pool import TokenPool
from commands.dataset.tokens import ENCODINGS, ModelTokenizer, get_counter
from commands.errors import InvalidInput
from commands.models import Method, Task

__all__ = [
    "DEFAULT_CONTEXT_LENGTH",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "MIN_EXAMPLES",
    "MIN_VALIDATION_EXAMPLES",
    "UnreadableDataset",
    "billed_tokens",
    "default_epochs",
    "validate_dataset",
]

MIN_EXAMPLES = 10  # Azure OpenAI and OpenAI refuse fewer
MIN_VALIDATION_EXAMPLES = 1  # the services set no minimum for validation data
MAX_FILE_BYTES = 512 * 1024 * 1024  # Azure: files must be under 512 MB
DEFAULT_CONTEXT_LENGTH = 4096

_BLOCK = 1 << 20
#: a line longer than this is over every model's context many times (>1M tokens): it is reported and
#: skipped without being held in memory, parsed or tokenized (a single 100 MB line stays cheap)
MAX_LINE_BYTES = 4 << 20
_BOM = b"\xef\xbb\xbf"


class UnreadableDataset(InvalidInput):
    """The dataset could not be read at all (missing file, a directory, an I/O error)."""

    code = "unreadable"


_POSITION = re.compile(r": line \d+ column (\d+) \(char \d+\)$")


def _json_reason(e: orjson.JSONDecodeError) -> str:
    """orjson's message, with its "line 1 column N (char M)" (always line 1 of the one line) as a column."""
    msg = str(e)
    m = _POSITION.search(msg)
    return _POSITION.sub("", msg) + f" (column {m.group(1)})" if m else msg


class _Validator:
    """One pass over one file: reads it in blocks, checks each line, queues its tokens. Not thread-safe."""

    def __init__(
        self,
        *,
        task: Task,
        context_length: int,
        encoding: str,
        exact_tokenizer: bool,
        count_tokens: bool,
        backend_text_format: DatasetFormat | None,
        workers: int,
        progress: Callable[[int], None] | None,
        min_examples: int = MIN_EXAMPLES,
        method: Method = Method.SUPERVISED,
        tokenizer: ModelTokenizer | None = None,
    ) -> None:
        rules: type[ExampleRules] = ChatRules if task is Task.CHAT_COMPLETION else TextRules
        if method is Method.DPO:
            rules = PreferenceRules
        self.report = ReportBuilder(
            task=task,
            context_length=context_length,
            encoding=f"{tokenizer.name} tokenizer" if tokenizer else encoding,
            exact_tokenizer=exact_tokenizer or tokenizer is not None,
            count_tokens=count_tokens,
            backend_text_format=backend_text_format,
            min_examples=min_examples,
            max_file_bytes=MAX_FILE_BYTES,
            chat_format="preference" if method is Method.DPO else "chat",
        )
        self.issues = self.report.issues
        self.tokens = TokenPool(encoding, workers, self.report.tokens_counted, tokenizer=tokenizer)
        self.rules = rules(self.issues)
        self._check = self.rules.check
        self.count_tokens = count_tokens
        self.progress = progress

    # -- lines -------------------------------------------------------------------------------------
    def _too_long(self, line: int, size: int) -> None:
        self.report.examples += 1
        self.issues.error(
            line,
            "line_too_long",
            f"This line is {size / (1 << 20):.0f} MB, far beyond any model's context "
            f"(at most {MAX_LINE_BYTES >> 20} MB a line); it was not read. "
            "Is the file one JSON object per line?",
        )

    def feed(self, raw: bytes, line: int) -> None:
        if not raw or raw.isspace():
            self.issues.warn(
                line, "blank_line", "Blank line; it is skipped (and dropped when ftbot uploads)."
            )
            return
        self.report.examples += 1
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            try:
                raw.decode("utf-8")  # pragma: no mutate ("UTF-8": codec names ignore case)
            except UnicodeDecodeError as ue:
                self.issues.error(
                    line,
                    "encoding",
                    f"Bytes that are not UTF-8 at byte {ue.start + 1} of the line; save the file as UTF-8.",
                )
                return
            self.issues.error(line, "invalid_json", f"Not valid JSON: {_json_reason(e)}.")
            return
        if type(obj) is not dict:
            self.issues.error(
                line, "data_type", f"Each line must be a JSON object; this one is {describe(obj)}."
            )
            return
        if self._check(obj, line):
            ex = self.rules
            self.report.valid_example(raw, ex)
            if self.count_tokens:
                self.tokens.add(line, len(raw), ex.base, ex.texts, ex.shared, obj)

    # -- the whole file ----------------------------------------------------------------------------
    def run(self, stream: BinaryIO) -> None:
        line = 0
        rest = b""
        first = True
        # inside an over-long line: its number and bytes so far (long_size is set with long_line)
        long_line, long_size = 0, 0  # pragma: no mutate (long_size=1: always set before it is read)
        report = self.report
        try:
            while True:
                block = stream.read(_BLOCK)
                if not block:
                    break
                report.bytes += len(block)
                if long_line:
                    end = block.find(b"\n")
                    if end < 0:
                        long_size += len(block)
                        continue
                    self._too_long(long_line, long_size + end)
                    line, long_line, block = long_line, 0, block[end + 1 :]
                if rest:
                    block = rest + block
                if first:
                    # pragma: no mutate start (<=, or: a BOM held back is stripped by the next read or below)
                    if len(block) < 3 and _BOM.startswith(block):
                        # pragma: no mutate end
                        rest = block  # a BOM split across reads (unbuffered streams)
                        continue
                    first = False  # pragma: no mutate (None: only its truthiness is read)
                    if block.startswith(_BOM):
                        report.has_bom = True
                        block = block[3:]
                parts = block.split(b"\n")
                rest = parts.pop()
                feed = self.feed
                first_line = line + 1
                for line, raw in enumerate(parts, first_line):
                    feed(raw, line)
                if len(rest) > MAX_LINE_BYTES:
                    long_line, long_size, rest = line + 1, len(rest), b""
                if self.progress is not None:
                    self.progress(report.bytes)
            if long_line:
                self._too_long(long_line, long_size)
                line = long_line  # pragma: no mutate (unread: an over-long last line leaves `rest` empty)
            # a guard: the loop above already strips a whole BOM, however it is read
            if first and rest.startswith(_BOM):
                report.has_bom = True  # pragma: no mutate (unreachable, see above)
                rest = rest[3:]  # pragma: no mutate (unreachable, see above)
            if rest:
                line += 1
                self.feed(rest, line)
            self.tokens.drain()
        finally:
            self.tokens.close()

    def finish(self, validation_hashes: tuple[array[int], array[int]] | None) -> ValidationReport:
        return self.report.build(validation_hashes)


def _workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _open(source: BinaryIO | Path) -> tuple[BinaryIO, bool]:
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return open(path, "rb"), True  # closed by the caller
        except FileNotFoundError as e:
            raise UnreadableDataset("No such file: {file}", file=path.name) from e
        except IsADirectoryError as e:
            raise UnreadableDataset("{file} is a directory, not a JSONL file.", file=path.name) from e
        except OSError as e:
            raise UnreadableDataset(f"Cannot read {{file}}: {e.strerror or e}", file=path.name) from e
    return source, False


def _run_one(source: BinaryIO | Path, v: _Validator) -> None:
    stream, owned = _open(source)
    try:
        v.run(stream)
    except OSError as e:
        raise UnreadableDataset(f"Reading the dataset failed: {e.strerror or e}") from e
    finally:
        if owned:
            stream.close()


def validate_dataset(
    source: BinaryIO | Path,
    *,
    task: Task = Task.CHAT_COMPLETION,
    context_length: int = DEFAULT_CONTEXT_LENGTH,
    encoding: str = "o200k_base",
    validation: BinaryIO | Path | None = None,
    backend_text_format: Literal["text_ground_truth", "prompt_completion"] | None = None,
    progress: Callable[[int], None] | None = None,
    exact_tokenizer: bool = True,
    count_tokens: bool = True,
    workers: int | None = None,
    method: Method = Method.SUPERVISED,
    tokenizer: ModelTokenizer | None = None,
    min_examples: int = MIN_EXAMPLES,
) -> ValidationReport:
    """Check a JSONL fine-tuning dataset line by line and return the full report (it never stops at the
    first problem). ``source`` is a path or a binary stream (read to its end, not closed).

    ``count_tokens=False`` gives the structure checks alone, without loading a tokenizer (fast enough to
    answer inside Slack's 3-second window); token statistics, the estimate and the over-context count are
    then ``None``.
    ``exact_tokenizer=False`` marks token figures approximate (base models that do not use ``encoding``).
    ``method=Method.DPO`` checks preference data (``input``, ``preferred_output``,
    ``non_preferred_output``) instead of chat examples; DPO is for chat models only.
    ``tokenizer`` (a backend's ``tokenizer_for(model)``) counts with the base model's own tokenizer and chat
    template: the figures are then exact for that model.
    ``min_examples``: the fewest examples ``source`` may hold (1 for validation data checked on its own).
    ``progress`` is called with the number of bytes read so far. Raises ``UnreadableDataset`` when the
    file cannot be read at all; every problem inside it is in the report.
    """
    if context_length < 1:
        raise InvalidInput("The context length must be at least 1 token.", field="context_length")
    task = Task(task)
    method = Method(method)
    if method is Method.DPO and task is not Task.CHAT_COMPLETION:
        raise InvalidInput(
            "DPO trains chat models: use the chat_completion task with --method dpo.", field="method"
        )
    n_workers = _workers() if workers is None else max(1, workers)

    def make(progress_cb: Callable[[int], None] | None, min_examples: int = MIN_EXAMPLES) -> _Validator:
        return _Validator(
            task=task,
            context_length=context_length,
            encoding=encoding,
            exact_tokenizer=exact_tokenizer,
            count_tokens=count_tokens,
            backend_text_format=backend_text_format,
            workers=n_workers,
            progress=progress_cb,
            min_examples=min_examples,
            method=method,
            tokenizer=tokenizer,
        )

    if encoding not in ENCODINGS:
        get_counter(encoding)  # raises the user-facing error, before reading
    vreport: ValidationReport | None = None
    vhashes: tuple[array[int], array[int]] | None = None
    if validation is not None:
        vv = make(None, min_examples=MIN_VALIDATION_EXAMPLES)
        _run_one(validation, vv)
        vreport = vv.finish(None)
        vhashes = (vv.report.hashes, vv.report.hash_lines)
    v = make(progress, min_examples)
    _run_one(source, v)
    report = v.finish(vhashes)
    if vreport is not None:
        report = report.model_copy(update={"validation": vreport, "ok": report.ok and vreport.ok})
    return report
