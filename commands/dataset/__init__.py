"""Dataset validation: streaming JSONL checks, token statistics, cost estimate, split and upload prep.

Pure: reads only the stream or path it is given (the split and the writer write the files asked for).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from commands.dataset.report import (
    ERROR_CODES,
    WARNING_CODES,
    DatasetFormat,
    DatasetStats,
    Issue,
    MessageStats,
    TokenStats,
    ValidationReport,
)
from commands.dataset.split import MIN_TRAINING_EXAMPLES, split_dataset
from commands.dataset.tokens import count_tokens, encoding_for_model, get_encoding, is_openai_model
from commands.dataset.validate import (
    DEFAULT_CONTEXT_LENGTH,
    MAX_FILE_BYTES,
    MIN_EXAMPLES,
    MIN_VALIDATION_EXAMPLES,
    UnreadableDataset,
    billed_tokens,
    default_epochs,
    validate_dataset,
)
from commands.dataset.writer import write_for_azure


def sample_dataset_path() -> Path:
    """The bundled customer-support chat dataset (system + user + assistant, short answers)."""
    ref = resources.files("commands.dataset").joinpath("samples").joinpath("customer_support.jsonl")
    return Path(str(ref))


__all__ = [
    "DEFAULT_CONTEXT_LENGTH",
    "ERROR_CODES",
    "MAX_FILE_BYTES",
    "MIN_EXAMPLES",
    "MIN_TRAINING_EXAMPLES",
    "MIN_VALIDATION_EXAMPLES",
    "WARNING_CODES",
    "DatasetFormat",
    "DatasetStats",
    "Issue",
    "MessageStats",
    "TokenStats",
    "UnreadableDataset",
    "ValidationReport",
    "billed_tokens",
    "count_tokens",
    "default_epochs",
    "encoding_for_model",
    "get_encoding",
    "is_openai_model",
    "sample_dataset_path",
    "split_dataset",
    "validate_dataset",
    "write_for_azure",
]
