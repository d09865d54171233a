"""Warroom: a ChatOps incident-response bot for Slack."""
