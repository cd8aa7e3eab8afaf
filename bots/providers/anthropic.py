"""Anthropic Messages: ``POST {base_url}/v1/messages``.

API reference: https://docs.anthropic.com/en/api/messages (errors:
https://docs.anthropic.com/en/api/errors, e.g. 529 ``overloaded_error``, retried here).
``base_url`` is the host, e.g. https://api.anthropic.com.
"""
from __future__ import annotations

from typing import Any

from bots.providers.base import (
    ChatRequest,
    Parsed,
    ProviderConfig,
    ProviderError,
    as_count,
    merged,
    unexpected,
)
from bots.providers.http import HttpCall

KIND = "anthropic"
API_VERSION = "2023-06-01"
# The Messages API requires max_tokens; 4096 fits a list of decisions with reasoning.
DEFAULT_MAX_TOKENS = 4096


def build_call(config: ProviderConfig, request: ChatRequest) -> HttpCall:
    """The request: ``{model, max_tokens, system, messages: [{role: user, content}]}``.

    The Messages API has no JSON mode flag, so ``json_mode`` sends nothing: the prompt
    asks for JSON and the parser copes with prose around it.
    """
    fixed: dict[str, Any] = {
        "model": config.model,
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": False,
    }
    if request.system:
        fixed["system"] = request.system
    if request.max_tokens is not None:
        fixed["max_tokens"] = request.max_tokens
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "anthropic-version": API_VERSION,
    }
    if config.api_key:
        headers["x-api-key"] = config.api_key
    url = f"{config.base_url.rstrip('/')}/v1/messages"
    return HttpCall(KIND, url, headers, merged({"max_tokens": DEFAULT_MAX_TOKENS}, config.options, fixed))


def parse_body(data: Any) -> Parsed:
    """The ``text`` blocks of ``content`` joined (thinking blocks skipped), and
    ``usage.input_tokens/output_tokens``."""
    if not isinstance(data, dict):
        raise unexpected("not an object", data)
    if data.get("type") == "error":
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        raise ProviderError(
            f"{error.get('type', 'error')}: {error.get('message', '')}",
            permanent=error.get("type") not in ("overloaded_error", "api_error", "rate_limit_error"),
        )
    content = data.get("content")
    if not isinstance(content, list):
        raise unexpected("no content", data)
    if data.get("stop_reason") == "refusal":
        raise ProviderError("the model refused to answer (stop_reason refusal)", permanent=True)
    text = "".join(
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    )
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    model = data.get("model")
    return Parsed(
        text=text,
        model=model if isinstance(model, str) and model else None,
        tokens_in=as_count(usage.get("input_tokens")),
        tokens_out=as_count(usage.get("output_tokens")),
    )
