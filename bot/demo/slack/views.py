"""``views.open``, ``.push``, ``.update`` and ``.publish``; a ``trigger_id`` works once."""

from __future__ import annotations

import json
from typing import Any

from bot.demo.slack.state import SlackState


class Views(SlackState):
    def _answer_views(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        match method:
            case "views.open" | "views.push":
                trigger = body.get("trigger_id", "")
                if trigger in self.expired_triggers:
                    return {"ok": False, "error": "expired_trigger_id"}
                self.expired_triggers.add(trigger)  # a trigger_id works once
                vid = f"V{next(self._ids):08d}"
                view = body["view"] if isinstance(body["view"], dict) else json.loads(body["view"])
                self.views[vid] = view
                return ok | {"view": view | {"id": vid, "hash": f"h{vid}"}}
            case "views.update":
                vid = body.get("view_id", "")
                if vid not in self.views:
                    return {"ok": False, "error": "not_found"}
                view = body["view"] if isinstance(body["view"], dict) else json.loads(body["view"])
                self.views[vid] = view
                return ok | {"view": view | {"id": vid, "hash": f"h{vid}x"}}
            case "views.publish":
                view = body["view"] if isinstance(body["view"], dict) else json.loads(body["view"])
                self.views[f"home:{body.get('user_id')}"] = view
                return ok | {"view": view}
        raise AssertionError(method)
