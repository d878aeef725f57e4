"""Who is paged (``FTBOT_ONCALL``), per workspace: one Slack user group (``S…``) or user (``U…``/``W…``)
for every workspace, or ``TEAM_ID=ID,…,default=ID`` when one ftbot serves many workspaces and each has
its own on-call (a user id means nothing in another workspace). A workspace with no entry and no
``default`` is not paged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_ID = re.compile(r"[USW][A-Z0-9]{1,31}")
_TEAM = re.compile(r"T[A-Z0-9]{1,31}")


@dataclass(frozen=True)
class OncallIds:
    default: str | None = None
    teams: Mapping[str, str] = field(default_factory=dict)

    def for_team(self, team_id: str) -> str | None:
        """Who to page for ``team_id``'s jobs and channels (``""``: a single-workspace install)."""
        return self.teams.get(team_id, self.default)

    def __bool__(self) -> bool:
        return self.default is not None or bool(self.teams)


def parse_oncall(text: str | None) -> OncallIds:
    """``S0ONCALL`` or ``T0AAA=S0AAA,T0BBB=U0BBB,default=S0ALL``. ``ValueError`` naming the first bad item."""
    text = (text or "").strip()
    if not text:
        return OncallIds()
    if "=" not in text:
        if not _ID.fullmatch(text):
            raise ValueError(
                "expected one Slack user-group id (S…) or user id (U…), or TEAM_ID=ID,…,default=ID"
            )
        return OncallIds(default=text)
    default: str | None = None
    teams: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        team, sep, who = (p.strip() for p in item.partition("="))
        if not sep or not _ID.fullmatch(who):
            raise ValueError(f"expected TEAM_ID=ID (a user-group id S… or user id U…), got {item!r}")
        if team.lower() == "default":
            default = who
        elif _TEAM.fullmatch(team):
            teams[team] = who
        else:
            raise ValueError(f"{team!r} is not a Slack workspace id (T…) or 'default'")
    return OncallIds(default=default, teams=teams)
