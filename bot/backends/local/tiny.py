"""``ftbot-tiny``: the built-in base model, created deterministically from a seed on first use.

A 2-layer Llama-style causal LM (hidden 256, 1.5 M parameters) with a byte-level BPE tokenizer trained
on a small built-in English corpus and a chat template. It is written with ``save_pretrained`` under
FTBOT_DATA_DIR/models/ftbot-tiny and from then on loaded with ``Auto*.from_pretrained`` — the same
code path a user's real model folder takes. Nothing is downloaded.

``initializer_range=0.1`` matters: with the default 0.02, LoRA on a random base stays stuck at
≈ ln(vocab).

Heavy imports (torch, transformers, tokenizers) happen inside ``build``; only worker processes call it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

NAME = "ftbot-tiny"
SEED = 20240517
CONTEXT_LENGTH = 1024
VOCAB_SIZE = 1024
DESCRIPTION = "Built-in 2-layer Llama-style model (1.5 M parameters) for trying the lifecycle offline"

PAD, BOS, END = "<|pad|>", "<|bos|>", "<|end|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, BOS, END, *ROLE_TOKENS)

#: LoRA for this random-init model (measured on a 30-example chat set, 5 epochs, batch 4: 22 of 30 training
#: prompts answered verbatim, against 0-2 with r=8/alpha=16 on the attention and MLP layers only): the
#: output head gets an adapter too, and the larger alpha scales the update up.
LORA_R = 8
LORA_ALPHA = 64
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")
LEARNING_RATE = 2.5e-3

# Each message renders as <|role|>content<|end|>; the assistant turn's <|end|> is the eos the model learns.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

# The tokenizer's merges are learnt from this text only, so the model is the same on every machine.
CORPUS = """
Hello! Thanks for reaching out. How can I help you today? I am sorry to hear that it does not work.
Please check that the device is plugged in and turned on, then open Settings and choose the right output.
You can reset your password from the sign in page: select Forgot password and follow the link in the email.
Your order has shipped and should arrive within three to five business days. We will send a tracking number.
To cancel a subscription, open your account, go to Billing, and select Cancel subscription. The change is
immediate, and you will not be charged again. Refunds are processed within ten days of the return.
The weather today is sunny with a light breeze in the morning and some clouds in the afternoon.
What is the capital of France? The capital of France is Paris. What is two plus two? Two plus two is four.
Write a short summary of the meeting notes and list the action items with their owners and due dates.
The system could not connect to the server. Restart the application, check your network connection and
try again. If the problem continues, contact support with the error code shown on the screen.
Our store is open Monday to Friday from nine in the morning until six in the evening, and on Saturday
until noon. We are closed on Sunday and on public holidays. Call us or send a message at any time.
Translate the following sentence into French. Answer the question in one sentence. Explain it simply.
The model was trained on the data set for three epochs. The training loss went down and the validation
loss followed. Deploy the fine-tuned model to an endpoint, test it in a chat, then tear it down.
Yes, of course. No, that is not possible right now. I understand. Let me look into that for you.
Headset, volume, audio, speaker, microphone, screen, keyboard, battery, charger, cable, update, install.
Account, invoice, payment, delivery, return, warranty, address, phone, email, message, request, ticket.
""".strip()


def build_tokenizer() -> Any:
    """The byte-level BPE tokenizer with the chat template (deterministic: trained on ``CORPUS`` only)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=END)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = CONTEXT_LENGTH
    return tokenizer


def build(target: Path, *, seed: int = SEED, **config_overrides: Any) -> None:
    """Write the model folder to ``target`` (atomically: a concurrent builder cannot leave half a folder)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        head_dim=64,
        max_position_embeddings=CONTEXT_LENGTH,
        initializer_range=0.1,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    for key, value in config_overrides.items():
        setattr(config, key, value)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
            # another worker built it first; the builds are identical
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure(models_dir: Path) -> Path:
    """The ftbot-tiny folder under ``models_dir``, built on first use."""
    target = models_dir / NAME
    if not (target / "config.json").is_file():
        with contextlib.suppress(FileNotFoundError):
            if target.exists():  # a broken leftover (not written by ``build``, which renames whole folders)
                shutil.rmtree(target)
        build(target)
    return target
