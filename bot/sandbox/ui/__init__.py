"""The sandbox's browser workspace: a Slack-like page at `/sandbox` that drives Warroom as Slack would."""

from bot.sandbox.ui.routes import SandboxUI

__all__ = ["SandboxUI"]
