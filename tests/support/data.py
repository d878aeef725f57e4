"""Training data for tests: valid chat-format JSONL."""

from __future__ import annotations

import json


def chat_lines(n: int) -> str:
    """``n`` valid chat examples (system, user, assistant), one JSON object a line."""
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You are a support agent."},
                {"role": "user", "content": f"Where is order {i}?"},
                {"role": "assistant", "content": f"Order {i} ships tomorrow."},
            ]
        }
        for i in range(n)
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def preference_lines(n: int) -> str:
    """``n`` valid DPO preference examples (``input``, ``preferred_output``, ``non_preferred_output``)."""
    rows = [
        {
            "input": {
                "messages": [
                    {"role": "system", "content": "You are a support agent."},
                    {"role": "user", "content": f"Where is order {i}?"},
                ]
            },
            "preferred_output": [{"role": "assistant", "content": f"Order {i} ships tomorrow."}],
            "non_preferred_output": [{"role": "assistant", "content": "No idea."}],
        }
        for i in range(n)
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"
