"""Postmortems: drafted from the timeline, reviewed in Slack, versioned, with action items and a proposed runbook."""
