"""A local model's own tokenizer and chat template for the dataset statistics, in the bot process.

Light on purpose: the ``tokenizers`` library (Rust, no torch) reads the folder's ``tokenizer.json`` and
jinja2 renders its chat template the way transformers' ``apply_chat_template`` does (sandboxed,
``trim_blocks``, ``lstrip_blocks``), so the review step counts exactly the tokens the trainer will see,
without importing transformers. Examples whose messages are not plain role/content text (tool calls,
preference pairs) are counted as their texts plus the validator's per-message overhead.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.backends.local import files

_cache: dict[tuple[str, float], LocalTokenizer] = {}
_lock = threading.Lock()


class LocalTokenizer:
    """``commands.dataset.tokens.ModelTokenizer`` for a Hugging Face model folder."""

    def __init__(self, name: str, tokenizer: Any, template: Any, specials: Mapping[str, str]) -> None:
        self.name = name
        self._tokenizer = tokenizer
        self._template = template
        self._specials = dict(specials)

    def render(self, messages: Sequence[Mapping[str, Any]], *, generation_prompt: bool = False) -> str:
        return str(
            self._template.render(
                messages=[{"role": m["role"], "content": m["content"]} for m in messages],
                add_generation_prompt=generation_prompt,
                **self._specials,
            )
        )

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count(self, example: Any, texts: Sequence[str], base: int) -> int:
        messages = example.get("messages") if isinstance(example, dict) else None
        if isinstance(messages, list) and _plain_chat(messages):
            with contextlib.suppress(Exception):  # the template refuses it: count its texts instead
                return len(self.encode(self.render(messages)))
        return base + sum(len(self.encode(t)) for t in texts)


def _plain_chat(messages: object) -> bool:
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        )
    )


def _template_source(path: Path, config: Mapping[str, Any]) -> str | None:
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = config.get("chat_template")
    return template if isinstance(template, str) else None


def _special(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def load_tokenizer(name: str, path: Path) -> LocalTokenizer | None:
    """The tokenizer of the model folder ``path``, or ``None`` when the folder has no fast tokenizer or
    chat template yet (then the statistics stay approximate). Cached per folder while unchanged."""
    tok_file = path / "tokenizer.json"
    try:
        stamp = tok_file.stat().st_mtime
    except OSError:
        return None
    key = (str(path), stamp)
    with _lock:
        if key in _cache:
            return _cache[key]
    config = files.read_json(path / "tokenizer_config.json") or {}
    source = _template_source(path, config)
    if source is None:
        return None
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tok_file))
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
        env.globals["raise_exception"] = _raise
        template = env.from_string(source)
    except Exception:  # jinja2 absent or a broken folder: the counts stay approximate
        return None
    specials = {
        key: value
        for key in ("bos_token", "eos_token", "pad_token", "unk_token")
        if (value := _special(config.get(key))) is not None
    }
    out = LocalTokenizer(name, tokenizer, template, specials)
    with _lock:
        _cache[key] = out
    return out


def _raise(message: str) -> None:
    raise ValueError(message)
