"""Adapters that carry out automated runbook steps (HTTP actions)."""
