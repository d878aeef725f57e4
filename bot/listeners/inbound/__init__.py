"""ftbot's typed boundary: every inbound Slack shape is read here before any listener code runs.

``envelope`` screens a request (a shape ftbot handles, or ``Ignored``); ``requests`` reads the values of
a handled shape into the typed request its listener receives; ``boundary`` puts the screen in front of
Bolt. Listeners never index Slack's dicts themselves.
"""

from bot.listeners.inbound.envelope import Envelope, Ignored, Kind, Route, screen
from bot.listeners.inbound.requests import (
    ApprovalClick,
    ChatSubmission,
    CheckpointClick,
    Click,
    DeploySubmission,
    EndpointClick,
    HomeClick,
    HomeOpened,
    Inbound,
    JobClick,
    ReviewSubmission,
    SettingsSubmission,
    SlashCommand,
    Submission,
    Suggestion,
    WizardSubmission,
)

__all__ = [
    "ApprovalClick",
    "ChatSubmission",
    "CheckpointClick",
    "Click",
    "DeploySubmission",
    "EndpointClick",
    "Envelope",
    "HomeClick",
    "HomeOpened",
    "Ignored",
    "Inbound",
    "JobClick",
    "Kind",
    "ReviewSubmission",
    "Route",
    "SettingsSubmission",
    "SlashCommand",
    "Submission",
    "Suggestion",
    "WizardSubmission",
    "screen",
]
