"""Which function carries out each outbox operation (every `Op` has exactly one)."""

from bot.outbox import Op, OutboxRow
from bot.slack.oncall_ops import ONCALL_HANDLERS
from bot.slack.ops import HANDLERS, Effect, Handler, OpContext
from bot.slack.postmortem_ops import POSTMORTEM_HANDLERS

ALL_HANDLERS: dict[Op, Handler] = {**HANDLERS, **ONCALL_HANDLERS, **POSTMORTEM_HANDLERS}


async def execute(row: OutboxRow, context: OpContext) -> Effect:
    return await ALL_HANDLERS[Op(row.op)](row, context)
