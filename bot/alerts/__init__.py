"""Alert intake: parse and verify deliveries per source, group alerts into incidents (Slack-free)."""
