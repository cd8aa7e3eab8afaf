"""OpenAI Chat Completions: ``POST {base_url}/chat/completions``.

API reference: https://platform.openai.com/docs/api-reference/chat/create. The same wire
format is served by xAI Grok (https://api.x.ai/v1), DeepSeek (https://api.deepseek.com/v1),
Qwen (DashScope compatible mode), OpenRouter (https://openrouter.ai/api/v1), and local
Ollama (http://localhost:11434/v1) and vLLM servers, so one client serves them all.
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

KIND = "openai"


def build_call(config: ProviderConfig, request: ChatRequest) -> HttpCall:
    """The request: messages [system, user]; ``response_format: json_object`` in JSON mode.

    The Authorization header is left out when the key is empty: local Ollama and vLLM
    need none, and some proxies reject ``Bearer`` with nothing after it.
    """
    messages = [{"role": "user", "content": request.prompt}]
    if request.system:
        messages.insert(0, {"role": "system", "content": request.system})
    defaults: dict[str, Any] = {}
    if request.json_mode:
        defaults["response_format"] = {"type": "json_object"}
    # stream is pinned off: a streamed reply is server-sent events, not one JSON body.
    fixed: dict[str, Any] = {"model": config.model, "messages": messages, "stream": False}
    if request.max_tokens is not None:
        fixed["max_tokens"] = request.max_tokens
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    url = f"{config.base_url.rstrip('/')}/chat/completions"
    return HttpCall(KIND, url, headers, merged(defaults, config.options, fixed))


def parse_body(data: Any) -> Parsed:
    """``choices[0].message.content`` and ``usage.prompt_tokens/completion_tokens``."""
    if not isinstance(data, dict):
        raise unexpected("not an object", data)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        error = data.get("error")
        if error:
            # OpenRouter reports an upstream failure as 200 {"error": ...}: worth a retry.
            message = error.get("message") if isinstance(error, dict) else error
            raise ProviderError(f"the server reported an error: {message}", permanent=False)
        raise unexpected("no choices", data)
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise unexpected("no message in choices[0]", data)
    if choice.get("finish_reason") == "content_filter":
        raise ProviderError("the reply was withheld by the content filter", permanent=True)
    content = message.get("content")
    if isinstance(content, list):  # some compatible servers return content parts
        content = "".join(
            part["text"] for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    if not isinstance(content, str):
        refusal = message.get("refusal")
        if refusal:
            raise ProviderError(f"the model refused: {refusal}", permanent=True)
        raise unexpected("choices[0].message.content is not text", data)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    model = data.get("model")
    return Parsed(
        text=content,
        model=model if isinstance(model, str) and model else None,
        tokens_in=as_count(usage.get("prompt_tokens")),
        tokens_out=as_count(usage.get("completion_tokens")),
    )
