"""Slack integration (the only package that imports slack_bolt / slack_sdk)."""
