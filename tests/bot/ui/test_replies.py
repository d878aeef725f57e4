"""The replies a user gets, and the stored description of a launch in progress."""

from __future__ import annotations

from bot.datasets.names import safe_url
from bot.ui.replies import submit_launch, wizard_launch


def test_a_launch_is_described_without_secrets_or_credentials() -> None:
    url = "https://user:pw@acct.blob.core.windows.net:443/c/t.jsonl?sig=S3CRET"
    described = submit_launch("m", safe_url(url))
    assert described == "/finetune submit --model m --data https://acct.blob.core.windows.net:443/c/t.jsonl"
    assert submit_launch("m", safe_url("http://[::1/train.jsonl")).endswith("--data (unparseable URL)")
    assert wizard_launch("m", "t.jsonl") == "the wizard's Start training of m on t.jsonl"
