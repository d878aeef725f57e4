"""Evaluation of a fine-tuned model against its base model: held-out examples, metrics, the verdict."""
