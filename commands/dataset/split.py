"""Automatic training/validation split (the portal's "automatic split"), streaming, deterministic per seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from commands.errors import InvalidInput

MIN_TRAINING_EXAMPLES = 10  # the services refuse fewer
_BOM = b"\xef\xbb\xbf"


def _examples(path: Path) -> Iterator[bytes]:
    """Yield the non-blank lines of ``path`` (BOM removed, each ending in a newline)."""
    with open(path, "rb") as f:
        first = True
        for raw in f:
            if first:
                first = False  # pragma: no mutate (None is as falsy as False: equivalent)
                if raw.startswith(_BOM):
                    raw = raw[3:]
            if raw.strip():
                yield raw if raw.endswith(b"\n") else raw + b"\n"


def split_dataset(source: Path, fraction: float, seed: int, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<stem>.train.jsonl`` and ``<stem>.validation.jsonl`` into ``out_dir``, putting about
    ``fraction`` of the examples (at least one) in validation and keeping the file order on both sides.

    The same file, fraction and seed always give the same split. Raises ``InvalidInput`` when
    ``fraction`` is not strictly between 0 and 1, or when the data is too small to leave at least one
    validation example and ``MIN_TRAINING_EXAMPLES`` training examples. Reads the file twice, never
    holding it in memory (only the chosen line indexes).
    """
    if not 0 < fraction < 1:
        raise InvalidInput(
            f"The validation fraction must be between 0 and 1 (exclusive), e.g. 0.1; got {fraction}.",
            field="split",
        )
    source = Path(source)
    try:
        n = sum(1 for _ in _examples(source))
    except FileNotFoundError as e:
        raise InvalidInput("No such file: {file}", field="split", file=source.name) from e
    except OSError as e:
        raise InvalidInput(f"Cannot read {{file}}: {e.strerror or e}", field="split", file=source.name) from e
    n_valid = max(1, round(n * fraction))
    n_train = n - n_valid
    if n_train < MIN_TRAINING_EXAMPLES:
        raise InvalidInput(
            f"{{file}} has {n} example(s): too few to split with fraction {fraction} "
            f"({n_train} would be left for training; fine-tuning needs at least {MIN_TRAINING_EXAMPLES}). "
            "Add examples or provide a separate validation file.",
            field="split",
            file=source.name,
        )
    chosen = set(random.Random(seed).sample(range(n), n_valid))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = source.name.removesuffix(".jsonl")
    train_path = out_dir / f"{stem}.train.jsonl"
    valid_path = out_dir / f"{stem}.validation.jsonl"
    with open(train_path, "wb") as train, open(valid_path, "wb") as valid:
        for i, raw in enumerate(_examples(source)):
            (valid if i in chosen else train).write(raw)
    return train_path, valid_path
