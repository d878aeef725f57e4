"""The local backend: real LoRA fine-tuning in worker processes and an OpenAI-compatible endpoint
server on loopback. Importing this package is light: torch and transformers load only in the worker
(``trainer.py``) and server (``server.py``) processes."""

from bot.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
