"""FastAPI routers: webhooks, JSON API, health and metrics."""
