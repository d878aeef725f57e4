"""The validation report of one pass: its issues as they are found, its counts, and the report at the end.

Every issue is counted; the first ``LISTED_PER_CODE`` of each code are listed with their line. Memory stays
flat apart from 12 bytes per valid example (a 64-bit line hash for duplicate and overlap detection, a
32-bit line number) plus 4 bytes per token count.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from commands.dataset.report import (
    DatasetFormat,
    DatasetStats,
    Issue,
    MessageStats,
    TokenStats,
    ValidationReport,
)
from commands.dataset.rules import FORMAT_KEYS, ExampleRules
from commands.models import Task

LISTED_PER_CODE = 100  # issues listed per code; every one is counted

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def default_epochs(n_examples: int) -> int:
    """The rule for ``n_epochs=auto`` in the OpenAI Cookbook's "Data preparation and analysis for chat
    model fine-tuning": 3 epochs, but at least 100 and at most 25,000 example-passes, clamped to 1-25.
    No examples: 1."""
    if n_examples <= 0:
        return MIN_DEFAULT_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:  # pragma: no mutate (<=: 3n is never 100)
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:  # pragma: no mutate (>=: 3n is never 25,000)
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return TARGET_EPOCHS


def billed_tokens(token_counts: Any, context_length: int, epochs: int) -> int:
    """``epochs x sum(min(tokens, context_length))`` over examples: how the same Cookbook notebook
    estimates the tokens a fine-tuning job is charged for."""
    counts = np.asarray(token_counts, dtype=np.int64)  # pragma: no mutate (counts are ints, sums widen)
    return int(epochs * int(np.minimum(counts, context_length).sum()))


class IssueLog:
    """The errors and warnings of one pass, in the order they were found, listed up to a cap per code."""

    def __init__(self) -> None:
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.error_counts: dict[str, int] = {}
        self.warning_counts: dict[str, int] = {}

    def error(self, line: int | None, code: str, message: str) -> None:
        n = self.error_counts.get(code, 0)
        self.error_counts[code] = n + 1
        if n < LISTED_PER_CODE:
            self.errors.append(Issue(line=line, code=code, message=message))

    def warn(self, line: int | None, code: str, message: str) -> None:
        n = self.warning_counts.get(code, 0)
        self.warning_counts[code] = n + 1
        if n < LISTED_PER_CODE:
            self.warnings.append(Issue(line=line, code=code, message=message))


class ReportBuilder:
    """Counts one file as it is read and assembles its ``ValidationReport``."""

    def __init__(
        self,
        *,
        task: Task,
        context_length: int,
        encoding: str,
        exact_tokenizer: bool,
        count_tokens: bool,
        backend_text_format: DatasetFormat | None,
        min_examples: int,
        max_file_bytes: int,
        chat_format: DatasetFormat = "chat",
    ) -> None:
        self.task = task
        self.chat_format = chat_format  # "preference" for DPO data
        self.ctx = context_length
        self.encoding = encoding
        self.exact = exact_tokenizer
        self.count_tokens = count_tokens
        self.backend_text_format = backend_text_format
        self.min_examples = min_examples
        self.max_file_bytes = max_file_bytes
        self.issues = IssueLog()
        self.examples = 0
        self.valid = 0
        self.bytes = 0
        self.has_bom = False
        self.hashes = array("q")
        self.hash_lines = array("I")
        self.token_counts = array("I")
        self.over_context = 0
        self.msg_min = 0  # pragma: no mutate (unread until the first valid example sets it)
        self.msg_max = 0  # pragma: no mutate (unread until the first valid example sets it)
        self.msg_sum = 0
        self.formats: dict[DatasetFormat, int] = {}
        self.first_format_line: dict[DatasetFormat, int] = {}

    # -- counting, as the file is read -------------------------------------------------------------
    def valid_example(self, raw: bytes, ex: ExampleRules) -> None:
        """The example ``ex`` has just checked passed every check: its message count or format, its hash."""
        fmt = ex.format
        if fmt == "chat" or fmt == "preference":
            n = ex.messages
            if self.valid == 0:
                self.msg_min = self.msg_max = n
            elif n < self.msg_min:  # pragma: no mutate (<=: sets the same value)
                self.msg_min = n
            elif n > self.msg_max:  # pragma: no mutate (>=: sets the same value)
                self.msg_max = n
            self.msg_sum += n
        elif fmt is not None:
            self.formats[fmt] = self.formats.get(fmt, 0) + 1
            self.first_format_line.setdefault(fmt, ex.line)
        self.valid += 1
        self.hashes.append(hash(raw))
        self.hash_lines.append(ex.line)

    def tokens_counted(self, totals: list[int], lines: list[int]) -> None:
        """Per-example token totals of a batch, with their line numbers."""
        ctx = self.ctx
        for n, line in zip(totals, lines, strict=True):  # pragma: no mutate (strict: equal by construction)
            if self.count_tokens:
                self.token_counts.append(n)
            if n > ctx:
                self.over_context += 1
                self.issues.warn(
                    line,
                    "over_context_length",
                    f"Example has {n:,} tokens, over the model's context length of {ctx:,}; "
                    "it will be truncated during training.",
                )

    # -- the report ----------------------------------------------------------------------------------
    def build(self, validation_hashes: tuple[array[int], array[int]] | None) -> ValidationReport:
        file_errors = self._file_errors()
        fmt = self._format(file_errors)
        dups = self._duplicates()
        if validation_hashes is not None:
            self._overlap(*validation_hashes)
        epochs = default_epochs(self.valid)
        tokens, billed = self._token_stats(epochs)
        messages = None
        if self.task is Task.CHAT_COMPLETION and self.valid:
            messages = MessageStats(
                min=self.msg_min, mean=round(self.msg_sum / self.valid, 2), max=self.msg_max
            )
        issues = self.issues
        errors = file_errors + issues.errors
        warnings = sorted(issues.warnings, key=lambda i: i.line or 0)
        stats = DatasetStats(
            examples=self.examples,
            valid_examples=self.valid,
            format=fmt,
            bytes=self.bytes,
            has_bom=self.has_bom,
            messages_per_example=messages,
            tokens_per_example=tokens,
            encoding=self.encoding,
            approximate_tokens=not self.exact,
            context_length=self.ctx,
            examples_over_context=self.over_context if self.count_tokens else None,
            duplicates=dups,
            default_epochs=epochs,
            billed_tokens_estimate=billed,
            needed_text_format=self.backend_text_format if self.task is Task.TEXT_COMPLETION else None,
            error_counts=dict(issues.error_counts),
            warning_counts=dict(issues.warning_counts),
        )
        return ValidationReport(
            ok=not issues.error_counts,
            examples=self.examples,
            errors=errors,
            error_counts=dict(issues.error_counts),
            warnings=warnings,
            warning_counts=dict(issues.warning_counts),
            stats=stats,
        )

    def _file_error(self, file_errors: list[Issue], line: int | None, code: str, message: str) -> None:
        counts = self.issues.error_counts
        counts[code] = counts.get(code, 0) + 1
        file_errors.append(Issue(line=line, code=code, message=message))

    def _file_errors(self) -> list[Issue]:
        """Errors about the file as a whole: empty, too few examples, too large."""
        file_errors: list[Issue] = []
        if self.bytes == 0 or self.examples == 0:
            self._file_error(
                file_errors, None, "empty_file", "The file is empty; it needs one JSON example per line."
            )
        elif self.examples < self.min_examples:
            self._file_error(
                file_errors,
                None,
                "too_few_examples",
                f"The file has {self.examples} example(s); fine-tuning needs at least {self.min_examples}.",
            )
        if self.bytes >= self.max_file_bytes:
            self._file_error(
                file_errors,
                None,
                "too_large",
                f"The file is {self.bytes / 2**20:,.0f} MB; Azure takes files under 512 MB. "
                "Split it or import it from Blob storage.",
            )
        return file_errors

    def _format(self, file_errors: list[Issue]) -> DatasetFormat | None:
        """The file's format; for text completion, an error when it mixes formats or is not the backend's."""
        if self.task is Task.CHAT_COMPLETION:
            return self.chat_format if self.valid else None
        if not self.formats:
            return None
        formats = self.formats
        main: DatasetFormat = max(formats, key=lambda f: formats[f])
        if len(formats) > 1:
            other = min(formats, key=lambda f: formats[f])
            self._file_error(
                file_errors,
                self.first_format_line[other],
                "mixed_formats",
                f"The file mixes {FORMAT_KEYS[main]} lines ({formats[main]}) with "
                f"{FORMAT_KEYS[other]} lines ({formats[other]}, the first here); use one format.",
            )
        if self.backend_text_format is not None and self.backend_text_format != main:
            self._file_error(
                file_errors,
                None,
                "format_mismatch",
                f"The chosen backend needs {FORMAT_KEYS[self.backend_text_format]} lines; "
                f"this file has {FORMAT_KEYS[main]}.",
            )
        return main

    def _token_stats(self, epochs: int) -> tuple[TokenStats | None, int | None]:
        """Token percentiles and the billed-token estimate; ``None`` where tokens were not counted."""
        if not self.count_tokens:
            return None, None
        if not self.token_counts:
            return None, 0
        s = np.sort(np.frombuffer(self.token_counts, dtype=np.uint32))
        n = s.size
        tokens = TokenStats(
            min=int(s[0]),
            p50=int(s[max(0, -(-n * 50 // 100) - 1)]),
            p95=int(s[max(0, -(-n * 95 // 100) - 1)]),
            max=int(s[-1]),
            total=int(s.sum(dtype=np.int64)),  # pragma: no mutate (None: numpy sums uint32 as uint64)
        )
        return tokens, billed_tokens(s, self.ctx, epochs)

    def _duplicates(self) -> int:
        if len(self.hashes) < 2:
            return 0
        h = np.frombuffer(self.hashes, dtype=np.int64)
        order = np.argsort(h, kind="stable")  # pragma: no mutate ("STABLE": numpy ignores the case)
        hs = h[order]
        same = np.flatnonzero(hs[1:] == hs[:-1]) + 1
        if not same.size:
            return 0
        lines = np.frombuffer(self.hash_lines, dtype=np.uint32)
        # the first line of each run of equal hashes
        first = np.arange(hs.size)
        starts = np.ones(hs.size, dtype=bool)  # pragma: no mutate (float ones: only truthiness is read)
        starts[same] = False  # pragma: no mutate (None is False in a bool array)
        first = np.maximum.accumulate(np.where(starts, first, 0))
        for pos in same.tolist():
            dup_line = int(lines[order[pos]])
            orig = int(lines[order[first[pos]]])
            self.issues.warn(dup_line, "duplicate_example", f"Exact duplicate of line {orig}.")
        return int(same.size)

    def _overlap(self, vhashes: array[int], vlines: array[int]) -> None:
        if not self.hashes or not vhashes:  # pragma: no mutate (`and`: an empty side finds no hit below)
            return
        h = np.frombuffer(self.hashes, dtype=np.int64)
        v = np.frombuffer(vhashes, dtype=np.int64)
        hit = np.flatnonzero(np.isin(h, v))
        if not hit.size:
            return
        lines = np.frombuffer(self.hash_lines, dtype=np.uint32)
        # pragma: no mutate start (strict: one line number per hash, equal by construction)
        vl = dict(zip(v.tolist(), np.frombuffer(vlines, dtype=np.uint32).tolist(), strict=True))
        # pragma: no mutate end
        for pos in hit.tolist():
            self.issues.warn(
                int(lines[pos]),
                "train_validation_overlap",
                f"The same example is line {vl[int(h[pos])]} of the validation file; "
                "validation loss will flatter the model.",
            )
