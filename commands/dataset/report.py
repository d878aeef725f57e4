"""The validation report: typed, frozen, serialisable to the JSON object ``ftbot validate --json`` prints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DatasetFormat = Literal["chat", "preference", "text_ground_truth", "prompt_completion"]

#: error codes (stable; used in JSON output and by the Slack layer)
ERROR_CODES = (
    "invalid_json",
    "data_type",
    "missing_messages_list",
    "message_missing_key",
    "message_unrecognized_key",
    "unrecognized_role",
    "missing_content",
    "example_missing_assistant_message",
    "invalid_weight",
    "invalid_tool_calls",
    "invalid_tools",
    "missing_key",
    "unrecognized_key",
    "format_mismatch",
    "mixed_formats",
    "encoding",
    "too_few_examples",
    "too_large",
    "empty_file",
    "line_too_long",
    "missing_input",
    "invalid_preference_output",
)
#: warning codes
WARNING_CODES = (
    "missing_system_message",
    "missing_user_message",
    "over_context_length",
    "duplicate_example",
    "train_validation_overlap",
    "empty_assistant_reply",
    "empty_completion",
    "unrecognized_top_level_key",
    "blank_line",
    "identical_preference",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Issue(_Frozen):
    """One error or warning. ``line`` is 1-based; ``None`` for a finding about the whole file."""

    line: int | None
    code: str
    message: str


class MessageStats(_Frozen):
    min: int
    mean: float
    max: int


class TokenStats(_Frozen):
    min: int
    p50: int
    p95: int
    max: int
    total: int


class DatasetStats(_Frozen):
    examples: int  # non-blank lines
    valid_examples: int  # lines without an error (the ones the statistics describe)
    format: DatasetFormat | None
    bytes: int
    has_bom: bool
    messages_per_example: MessageStats | None  # chat and preference (input and both outputs) only
    tokens_per_example: TokenStats | None  # None when tokens were not counted
    encoding: str
    approximate_tokens: bool  # True for base models whose tokenizer is not the tiktoken encoding used
    context_length: int
    examples_over_context: int | None  # None when tokens were not counted
    duplicates: int
    default_epochs: int
    billed_tokens_estimate: (
        int | None
    )  # default_epochs x sum(min(tokens, context_length)); None if not counted
    needed_text_format: DatasetFormat | None = None  # text task: what the chosen backend takes
    error_counts: dict[str, int]
    warning_counts: dict[str, int]


class ValidationReport(_Frozen):
    ok: bool
    examples: int
    errors: list[Issue]  # listing capped per code; error_counts has every one
    error_counts: dict[str, int]
    warnings: list[Issue]
    warning_counts: dict[str, int]
    stats: DatasetStats
    validation: ValidationReport | None = None  # the validation file's own report, when one was given

    @property
    def error_total(self) -> int:
        return sum(self.error_counts.values())

    @property
    def warning_total(self) -> int:
        return sum(self.warning_counts.values())

    def to_json_dict(self) -> dict[str, Any]:
        """The ``ftbot validate --json`` object: ``{"ok", "examples", "errors", "warnings", "stats"}``
        (plus ``"validation"`` with the same shape when a validation file was checked)."""
        out: dict[str, Any] = {
            "ok": self.ok,
            "examples": self.examples,
            "errors": [i.model_dump() for i in self.errors],
            "warnings": [i.model_dump() for i in self.warnings],
            "stats": self.stats.model_dump(),
        }
        if self.validation is not None:
            out["validation"] = self.validation.to_json_dict()
        return out
