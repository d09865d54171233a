"""Incidents: lifecycle, numbering and timeline (Slack-free)."""
