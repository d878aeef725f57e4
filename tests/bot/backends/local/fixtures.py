"""A small chat dataset for the local backend's tests and benchmarks (the bundled sample may not exist)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SYSTEM = "You are the Contoso support assistant."

PAIRS = (
    ("My headset has no sound.", "Check that the headset is plugged in, then raise the volume in Settings."),
    ("How do I reset my password?", "Select Forgot password on the sign in page and follow the email link."),
    ("Where is my order?", "Your order has shipped; the tracking number is in your confirmation email."),
    ("How do I cancel my subscription?", "Open Account, go to Billing and select Cancel subscription."),
    ("When is the store open?", "We are open Monday to Friday from nine until six."),
    ("Can I return a product?", "Yes, returns are free within thirty days with the receipt."),
    ("The app keeps crashing.", "Update the app to the latest version and restart your phone."),
    ("My printer is offline.", "Turn the printer off and on, then reconnect it to the network."),
    ("How long does delivery take?", "Delivery takes three to five business days."),
    ("Do you ship abroad?", "We ship to all countries in the European Union."),
    ("My battery drains fast.", "Lower the screen brightness and close apps you do not use."),
    ("How do I change my address?", "Edit your address under Account and then Profile."),
    ("Is there a student discount?", "Students get ten percent off with a valid student card."),
    ("The keyboard types wrong letters.", "Check the keyboard layout in Settings under Language."),
    ("How do I contact a human?", "Call us or write to support and an agent will reply within a day."),
    ("My refund has not arrived.", "Refunds take up to ten days to reach your bank account."),
    ("Can I change my order?", "You can change an order until it ships from the Orders page."),
    ("The screen is flickering.", "Update the display driver and check the cable."),
    ("How do I install the update?", "Open Settings, select Update, and click Install now."),
    ("My microphone does not work.", "Allow microphone access for the app in privacy settings."),
    ("What payment methods do you take?", "We take cards, bank transfer and gift cards."),
    ("Where is the invoice?", "Invoices are in your account under Billing and then History."),
    ("The charger is broken.", "Send us a photo of the charger and we will replace it."),
    ("How do I pair my speaker?", "Hold the speaker button for five seconds, then pick it in Bluetooth."),
    ("Is my warranty still valid?", "The warranty lasts two years from the date of purchase."),
    ("The website will not load.", "Clear your browser cache and try the page again."),
    ("Can I pick up in store?", "Yes, choose pick up at checkout and bring your order number."),
    ("My webcam shows a black image.", "Open the camera cover and allow camera access."),
    ("How do I delete my account?", "Write to support from your account email and we will delete it."),
    ("What is the weather like?", "I can only help with questions about Contoso products."),
)


Conversation = dict[str, list[dict[str, str]]]


def examples(n: int = 30) -> list[Conversation]:
    """``n`` support conversations; beyond 30 the questions repeat with a case number."""
    out: list[Conversation] = []
    for i in range(n):
        q, a = PAIRS[i % len(PAIRS)]
        if i >= len(PAIRS):
            q = f"{q} (case {i})"
        out.append(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": q},
                    {"role": "assistant", "content": a},
                ]
            }
        )
    return out


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def post_json(
    port: int, path: str, body: object | None, headers: dict[str, str]
) -> tuple[int, dict[str, str], dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST" if body is not None else "GET",
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", **headers},
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def sse_events(port: int, body: dict[str, object], key: str) -> tuple[list[dict[str, Any]], bool]:
    """The ``data:`` events of a streamed answer, and whether it ended with ``[DONE]``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("content-type", "").startswith("text/event-stream")
        raw = resp.read().decode()
    finally:
        conn.close()
    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e.strip()]
    assert all(e != "[DONE]" for e in events[:-1])
    return [json.loads(e) for e in events if e != "[DONE]"], events[-1] == "[DONE]"
