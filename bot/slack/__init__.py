"""Slack adapter: Bolt listeners, Block Kit builders and the outbox relay (the only slack_* importer)."""
