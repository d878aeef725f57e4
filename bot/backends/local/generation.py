"""Generation for the local endpoint: a causal LM with its LoRA adapter behind the model's chat template.

The adapter stays unmerged (a PEFT model), so the same weights in the same process also answer as the
plain base model (``HFGenerator.base()``, with the adapter disabled for that request): the evaluation
compares both. Measured on smollm2-135m-instruct (BENCHMARKS.md), merging saves little on a model this
size and a second copy would double the memory. One generation runs at a time (a lock).

Stop tokens are the model's own: the tokenizer's eos and every eos id of its generation config (for
SmolLM2, ``<|im_end|>``). ``stream`` yields text deltas as tokens arrive (for server-sent events) and
stops early when asked (the client went away).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Generation:
    text: str
    completion_tokens: int
    finish_reason: str  # "stop" or "length"


class _TokenQueue:
    """A transformers streamer: the prompt (first ``put``) is skipped, new token ids are queued."""

    def __init__(self) -> None:
        self.queue: queue.Queue[int | None] = queue.Queue()
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.queue.put(int(token))

    def end(self) -> None:
        self.queue.put(None)


class HFGenerator:
    """A causal LM (with or without a LoRA adapter) behind its chat template; one generation at a time."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str,
        context_length: int,
        adapter: bool = True,
        lock: threading.Lock | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.context_length = context_length
        self.adapter = adapter
        self._lock = lock or threading.Lock()
        self.stop_ids = stop_token_ids(model, tokenizer)
        self._batcher_lock = threading.Lock()
        self._batcher_instance: Any = None  # a Batcher, made on the first batched request

    def base(self) -> HFGenerator:
        """The same model answering without its adapter (shares the weights and the lock)."""
        return HFGenerator(
            self.model,
            self.tokenizer,
            device=self.device,
            context_length=self.context_length,
            adapter=False,
            lock=self._lock,
        )

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        enc = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True, return_dict=True
        )
        return list(enc["input_ids"])

    def _kwargs(self, temperature: float, max_tokens: int, min_tokens: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "min_new_tokens": min_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.stop_ids:
            kwargs["eos_token_id"] = list(self.stop_ids)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False)
        return kwargs

    @contextlib.contextmanager
    def _mode(self) -> Iterator[None]:
        disable = getattr(self.model, "disable_adapter", None)
        if self.adapter or disable is None:
            yield
        else:
            with disable():
                yield

    def _run(self, prompt: list[int], kwargs: dict[str, Any]) -> list[int]:
        import torch

        ids = torch.tensor([prompt], dtype=torch.long, device=self.device)
        with self._lock, torch.inference_mode(), self._mode():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        return list(out[0][len(prompt) :].tolist())

    def _finish(self, new: list[int]) -> Generation:
        cut = next((i for i, t in enumerate(new) if t in self.stop_ids), None)
        if cut is not None:
            new = new[: cut + 1]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(
            text=text, completion_tokens=len(new), finish_reason="stop" if cut is not None else "length"
        )

    def generate(
        self, prompt: list[int], *, temperature: float, max_tokens: int, min_tokens: int = 0
    ) -> Generation:
        return self._finish(self._run(prompt, self._kwargs(temperature, max_tokens, min_tokens)))

    def generate_batch(self, prompts: Sequence[list[int]], max_tokens: Sequence[int]) -> list[Generation]:
        """Greedy replies to several prompts in one left-padded batch: each row the same tokens as
        ``generate`` alone, cut at its own stop token and its own ``max_tokens``."""
        import torch

        if len(prompts) == 1:
            return [self.generate(list(prompts[0]), temperature=0.0, max_tokens=max_tokens[0])]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        kwargs = self._kwargs(0.0, max(max_tokens), 0)
        with self._lock, torch.inference_mode(), self._mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        rows = out[:, width:].tolist()
        return [self._finish(list(row[:limit])) for row, limit in zip(rows, max_tokens, strict=True)]

    def generate_batched(self, prompt: list[int], max_tokens: int) -> Generation:
        """A greedy reply generated together with the other requests that arrive at the same time."""
        return self._batcher().generate(prompt, max_tokens)

    def _batcher(self) -> Any:
        from bot.backends.local.batching import Batcher

        with self._batcher_lock:
            if self._batcher_instance is None:
                self._batcher_instance = Batcher(self.generate_batch)
            return self._batcher_instance

    def stream(
        self,
        prompt: list[int],
        *,
        temperature: float,
        max_tokens: int,
        min_tokens: int = 0,
        cancel: threading.Event | None = None,
    ) -> Iterator[str | Generation]:
        """Text deltas as the tokens come, then the whole ``Generation`` last. Setting ``cancel`` stops
        the generation at the next token."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        cancelled = cancel or threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        streamer = _TokenQueue()
        kwargs = self._kwargs(temperature, max_tokens, min_tokens)
        kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled()]))
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self._run(prompt, kwargs)
            except BaseException as e:  # handed to the reader below
                failure.append(e)
                streamer.end()

        thread = threading.Thread(target=work, name="ftbot-generate", daemon=True)
        thread.start()
        new: list[int] = []
        sent = ""
        try:
            while (token := streamer.queue.get()) is not None:
                if token in self.stop_ids:
                    new.append(token)
                    break
                new.append(token)
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                if len(text) > len(sent) and not text.endswith("\ufffd"):  # not mid-way in a UTF-8 char
                    yield text[len(sent) :]
                    sent = text
        finally:
            cancelled.set()
            thread.join()
        if failure:
            raise failure[0]
        final = self._finish(new)
        if len(final.text) > len(sent) and final.text.startswith(sent):
            yield final.text[len(sent) :]
        yield final


def stop_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The model's end-of-turn ids: the tokenizer's eos and the generation config's (int or list)."""
    ids: set[int] = set()
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(int(tokenizer.eos_token_id))
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, list | tuple):
        ids.update(int(x) for x in eos)
    return frozenset(ids)


def load_generator(config: dict[str, Any]) -> HFGenerator:
    """Base model + adapter from an endpoint's config (built-in bases are built or converted on first use)."""
    from peft import PeftModel

    from bot.backends.local import catalog, tiny
    from bot.backends.local.trainer import load_base, pick_device, setup_torch

    setup_torch(int(config.get("threads") or 1))
    base_path = Path(config["base_path"])
    if config.get("builtin"):
        base_path = catalog.ensure_builtin(str(config.get("builtin_name") or tiny.NAME), base_path.parent)
    device, dtype = pick_device()
    model, tokenizer = load_base(base_path, device=device, dtype=dtype)
    model = PeftModel.from_pretrained(model, config["adapter_path"])
    model.eval()
    context = int(getattr(model.config, "max_position_embeddings", 0) or 4096)
    return HFGenerator(model, tokenizer, device=device, context_length=context)
