"""One bot's conversation with its model in a turn: a single call, or for sandbox
bots up to ``MAX_STEPS`` calls in which the model asks for analysis tools first.

Pure of the database: everything it needs was loaded into the ``Job``. Vendor
errors become a failed ``ModelCall`` with the error, never an exception.
"""
from __future__ import annotations

import httpx

from arena.turns.context import Job
from arena.turns.execute import ModelCall
from bots.parsing import ANALYZE, TRADE_ACTIONS, parse_reply
from bots.prompts import render_analysis_followup
from bots.providers import acomplete
from bots.providers.base import ChatRequest, ProviderError
from bots.tools import ToolError, run_tool

MAX_STEPS = 5


def _add_usage(call: ModelCall, reply) -> None:
    call.model = reply.model or call.model
    for name in ("tokens_in", "tokens_out", "latency_ms", "cost"):
        value = getattr(reply, name)
        if value is not None:
            setattr(call, name, (getattr(call, name) or 0) + value)


async def converse(job: Job, client: httpx.AsyncClient) -> ModelCall:
    call = ModelCall(prompt=job.prompt, model=job.config.model if job.config else "")
    if job.error:
        call.error = job.error
        return call
    allowed = set(TRADE_ACTIONS) | ({ANALYZE} if job.sandbox else set())
    prompt = job.prompt
    replies: list[str] = []
    for step in range(1, MAX_STEPS + 1):
        try:
            reply = await acomplete(
                job.config, ChatRequest(system=job.system, prompt=prompt, context=job.context), client=client
            )
        except ProviderError as exc:
            call.error = str(exc)
            break
        _add_usage(call, reply)
        replies.append(reply.text)
        parsed = parse_reply(reply.text, allowed_actions=allowed, known_symbols=job.known_symbols)
        requests = [a for a in parsed.actions if a.action == ANALYZE]
        decisions = [a for a in parsed.actions if a.action != ANALYZE]
        if not requests or step == MAX_STEPS:
            call.actions = decisions if requests else parsed.actions
            call.notes.extend(parsed.notes)
            if requests:
                call.notes.append(f"analysis steps exhausted after {MAX_STEPS} calls; "
                                  "analysis requests in the last answer were not run")
            break
        results = []
        for request in requests:
            try:
                result = run_tool(request.tool or "", dict(request.args), candles=job.candles)
            except ToolError as exc:
                result = {"error": str(exc)}
            entry = {"step": step, "tool": request.tool, "args": dict(request.args), "result": result}
            call.tool_calls.append(entry)
            results.append(entry)
        prompt = f"{prompt}\n\n{reply.text}\n\n{render_analysis_followup(results)}"
    call.raw_response = "\n\n--- next step ---\n\n".join(replies)
    return call
