"""Loopback stand-ins for Slack: what `ftbot demo` runs against, and the tests too."""
