"""Offline Slack workspace: a fake Web API, signed inbound deliveries and a loopback server to run them."""

from bot.sandbox.app import create_sandbox_app
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.limits import RateLimiter
from bot.sandbox.live import serve_app
from bot.sandbox.models import SlackError
from bot.sandbox.mount import mount_sandbox
from bot.sandbox.sender import SlackSender
from bot.sandbox.webapi import create_webapi_router, supported_methods
from bot.sandbox.workspace import Workspace

__all__ = [
    "Fault",
    "Faults",
    "RateLimiter",
    "SlackError",
    "SlackSender",
    "Workspace",
    "create_sandbox_app",
    "create_webapi_router",
    "mount_sandbox",
    "serve_app",
    "supported_methods",
]
