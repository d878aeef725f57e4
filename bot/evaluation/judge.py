"""The optional judge of an evaluation: an OpenAI-compatible chat endpoint (``FTBOT_EVAL_JUDGE_URL``,
``FTBOT_EVAL_JUDGE_KEY``, ``FTBOT_EVAL_JUDGE_MODEL``) asked, per example, which of the two replies is
better, with the prompt in ``judge_prompt.md`` beside this file. Its key never reaches a message or a log:
errors name the HTTP status or the connection failure only."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import httpx
import openai
from pydantic import SecretStr

from commands.evaluation.ports import JudgeCall

#: the judge answers one word; a few tokens leave room for "TIE." and a newline
MAX_VERDICT_TOKENS = 5
_PLACEHOLDER = re.compile(r"\{(question|reference|answer_a|answer_b)\}")
_VERDICT = re.compile(r"^\W*(A|B|TIE)\b", re.IGNORECASE)


def judge_prompt() -> str:
    return resources.files("bot.evaluation").joinpath("judge_prompt.md").read_text(encoding="utf-8")


def fill(template: str, **values: str) -> str:
    """The template with each placeholder replaced in one pass (a reply that contains ``{answer_b}``
    stays as written: replacements are never read again)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def read_verdict(text: str) -> str | None:
    """ "A", "B" or "tie" from the judge's reply; None for anything else."""
    found = _VERDICT.match(text.strip())
    if found is None:
        return None
    word = found.group(1).upper()
    return "tie" if word == "TIE" else word


class OpenAIJudge:
    def __init__(
        self, url: str, key: SecretStr, model: str, *, http_client: httpx.Client | None = None
    ) -> None:
        self.model = model
        self.template = judge_prompt()
        options: dict[str, Any] = {"max_retries": 2, "timeout": 60.0}
        if http_client is not None:
            options["http_client"] = http_client
        self._client = openai.OpenAI(base_url=url, api_key=key.get_secret_value(), **options)

    def compare(self, question: str, reference: str, answer_a: str, answer_b: str) -> JudgeCall:
        prompt = fill(
            self.template, question=question, reference=reference, answer_a=answer_a, answer_b=answer_b
        )
        try:
            reply = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
                max_tokens=MAX_VERDICT_TOKENS,
            )
        except openai.APIStatusError as e:
            return JudgeCall(error=f"the judge answered HTTP {e.status_code}")
        except openai.APIError:  # connection or timeout: its text may carry the URL, never the key
            return JudgeCall(error="the judge could not be reached")
        usage = reply.usage
        text = (reply.choices[0].message.content or "") if reply.choices else ""
        choice = read_verdict(text)
        return JudgeCall(
            choice=choice,
            error=None if choice else f"the judge answered {text[:40]!r}, not A, B or TIE",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )


def judge_from_settings(
    url: str | None, key: SecretStr | None, model: str | None, *, http_client: httpx.Client | None = None
) -> OpenAIJudge | None:
    """The judge where all three settings are set; None where none is (``judge_problems`` says which
    one is missing otherwise)."""
    if url and key is not None and key.get_secret_value() and model:
        return OpenAIJudge(url, key, model, http_client=http_client)
    return None


def judge_problems(url: str | None, key: SecretStr | None, model: str | None) -> list[str]:
    """A line per missing judge setting, when some are set and some not."""
    given = {
        "FTBOT_EVAL_JUDGE_URL": bool(url),
        "FTBOT_EVAL_JUDGE_KEY": key is not None,
        "FTBOT_EVAL_JUDGE_MODEL": bool(model),
    }
    if not any(given.values()) or all(given.values()):
        return []
    missing = ", ".join(name for name, ok in given.items() if not ok)
    return [f"the evaluation judge needs FTBOT_EVAL_JUDGE_URL, _KEY and _MODEL together; missing: {missing}"]
