"""Check 7: the bot token authenticates (``auth.test``), the scopes manifest.yaml asks for are granted
(Slack lists the granted ones in the ``x-oauth-scopes`` header of every Web API answer), and the bot is a
member of each FTBOT_ALLOWED_CHANNELS channel (``conversations.history`` answers ``not_in_channel``
otherwise, with the scopes ftbot already has)."""

from __future__ import annotations

from dataclasses import replace

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.doctor.probe import Probe
from commands.doctor import Check, Status, failed, passed, warned

#: manifest.yaml's bot scopes (``oauth_config.scopes.bot``), here because the container image has no
#: manifest.yaml and no YAML parser; ``tests/bot/doctor/test_slack_check.py`` holds the two equal
BOT_SCOPES = (
    "commands",
    "chat:write",
    "files:read",
    "files:write",
    "usergroups:read",
    "channels:history",
    "groups:history",
)
CHANNELS_CHECKED = 20
#: where the bot token comes from (not a token)
REINSTALL_FIX = (
    "Copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN "
    "(reinstall the app if the token was revoked)."
)


#: OAuth mode: a workspace's token comes from its install, not from a setting
OAUTH_REINSTALL_FIX = (
    "Install ftbot again in this workspace (https://<ftbot's public host>/slack/install), and approve the "
    "scopes it asks for."
)


def check_slack(probe: Probe) -> Check:
    """Single-workspace mode: the bot token. OAuth mode: the installation store and, run from a workspace
    (``/finetune doctor``: ``probe.slack`` gives that workspace's client), that workspace's own token."""
    assert probe.settings is not None
    if probe.settings.oauth_mode:
        store = check_installations(probe)
        if probe.slack_factory is None or store.status is Status.FAIL:
            return store  # `ftbot doctor` on the command line: no workspace to check
        token = check_token(probe, OAUTH_REINSTALL_FIX)
        if token.status is Status.PASS:
            return passed("slack", f"{store.detail}; this workspace: {token.detail}")
        return replace(token, detail=f"this workspace: {token.detail}")
    if probe.settings.slack_bot_token is None:
        return failed("slack", "SLACK_BOT_TOKEN is not set", REINSTALL_FIX)
    return check_token(probe, REINSTALL_FIX)


def check_token(probe: Probe, reinstall_fix: str) -> Check:
    """``probe.slack()``'s token: it authenticates, has the manifest's scopes, is in the channels."""
    web = probe.slack()
    try:
        answer = web.auth_test()
    except SlackApiError as e:
        return failed("slack", f"Slack refused the bot token ({e.response.get('error')})", reinstall_fix)
    except (SlackClientError, OSError) as e:
        return failed(
            "slack",
            f"Slack's Web API did not answer ({type(e).__name__})",
            "Check the network path to Slack (and SLACK_API_URL, when it is set).",
        )
    who = f"bot {answer.get('user') or answer.get('user_id')} in workspace {answer.get('team')}"
    headers = {str(k).lower(): str(v) for k, v in (answer.headers or {}).items()}
    granted_header = headers.get("x-oauth-scopes")
    wanted = BOT_SCOPES
    if granted_header is None:
        return warned("slack", f"{who}; Slack did not say which scopes are granted")
    granted = {s.strip() for s in granted_header.split(",") if s.strip()}
    missing = [s for s in wanted if s not in granted]
    if missing:
        return failed(
            "slack",
            f"{who}; scopes manifest.yaml asks for are not granted: {', '.join(missing)}",
            "Add them on the app's OAuth & Permissions page (or update the app from manifest.yaml) and "
            "reinstall it to the workspace.",
        )
    outside = _outside_channels(probe, web)
    if outside:
        return failed(
            "slack",
            f"{who}; not a member of FTBOT_ALLOWED_CHANNELS channel(s) {', '.join(outside)}",
            "Invite the bot in each (`/invite @ftbot`), or remove the channel from FTBOT_ALLOWED_CHANNELS.",
        )
    return passed("slack", f"{who}; all {len(wanted)} scopes of manifest.yaml granted")


def _outside_channels(probe: Probe, web: object) -> list[str]:
    assert probe.settings is not None
    outside = []
    for channel in probe.settings.allowed_channels[:CHANNELS_CHECKED]:
        try:
            web.conversations_history(channel=channel, limit=1)  # type: ignore[attr-defined]
        except SlackApiError as e:
            if e.response.get("error") in ("not_in_channel", "channel_not_found"):
                outside.append(channel)
    return outside


def check_installations(probe: Probe) -> Check:
    """OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, no bot token): the installation store answers,
    and says how many workspaces and orgs installed ftbot."""
    from bot.store.db import make_engine
    from bot.store.installations import SqlInstallationStore

    assert probe.settings is not None and probe.settings.slack_client_id
    engine = make_engine(probe.settings.resolved_database_url)
    try:
        installed = SqlInstallationStore(probe.settings.slack_client_id, engine).installed_teams()
    except Exception as e:  # any driver error: the store is what failed, whatever its kind
        return failed(
            "slack",
            f"OAuth mode: the installation store did not answer ({type(e).__name__})",
            "Check FTBOT_DATABASE_URL and run `ftbot serve` once so the migrations create the tables.",
        )
    finally:
        engine.dispose()
    if not installed:
        return warned(
            "slack",
            "OAuth mode: no workspace has installed ftbot yet",
            "Open https://<ftbot's public host>/slack/install and add ftbot to a workspace.",
        )
    orgs = sum(1 for _, team in installed if team is None)
    return passed("slack", f"OAuth mode: installed in {len(installed) - orgs} workspace(s) and {orgs} org(s)")
