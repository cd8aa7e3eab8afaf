"""Google Gemini: ``POST {base_url}/models/{model}:generateContent``.

API reference: https://ai.google.dev/api/generate-content. ``base_url`` ends in
``/v1beta`` (https://generativelanguage.googleapis.com/v1beta). The key travels in the
``x-goog-api-key`` header, never in the URL's ``?key=``: URLs end up in access logs,
proxies and error messages.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bots.providers.base import (
    ChatRequest,
    Parsed,
    ProviderConfig,
    ProviderError,
    as_count,
    unexpected,
)
from bots.providers.http import HttpCall

KIND = "gemini"
# Request fields that live beside generationConfig; any other option key is a
# generation parameter (temperature, topP, …) and goes inside it.
TOP_LEVEL_OPTIONS = frozenset({"safetySettings", "tools", "toolConfig", "cachedContent", "labels"})
# finishReason values meaning the reply was withheld (FinishReason in the API reference).
BLOCKED_FINISH = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)


def build_call(config: ProviderConfig, request: ChatRequest) -> HttpCall:
    """The request: ``systemInstruction``, one user turn in ``contents``, and
    ``generationConfig.responseMimeType: application/json`` in JSON mode."""
    generation: dict[str, Any] = {}
    if request.json_mode:
        generation["responseMimeType"] = "application/json"
    body: dict[str, Any] = {}
    for key, value in config.options.items():
        if key == "generationConfig" and isinstance(value, dict):
            generation.update(value)
        elif key in TOP_LEVEL_OPTIONS:
            body[key] = value
        else:
            generation[key] = value
    if request.max_tokens is not None:
        generation["maxOutputTokens"] = request.max_tokens
    if generation:
        body["generationConfig"] = generation
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    body["contents"] = [{"role": "user", "parts": [{"text": request.prompt}]}]
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["x-goog-api-key"] = config.api_key
    # "models/gemini-2.0-flash" and "gemini-2.0-flash" both name the model.
    model = quote(config.model.removeprefix("models/"), safe="-._")
    url = f"{config.base_url.rstrip('/')}/models/{model}:generateContent"
    return HttpCall(KIND, url, headers, body)


def parse_body(data: Any) -> Parsed:
    """``candidates[0].content.parts[].text`` joined (thought parts skipped) and
    ``usageMetadata.promptTokenCount/candidatesTokenCount``.

    A blocked prompt (``promptFeedback.blockReason``, or no candidates at all) or a
    withheld reply (``finishReason`` SAFETY and kin) is a permanent error: the same
    prompt would be blocked again.
    """
    if not isinstance(data, dict):
        raise unexpected("not an object", data)
    feedback = data.get("promptFeedback") if isinstance(data.get("promptFeedback"), dict) else {}
    if feedback.get("blockReason"):
        reason = feedback["blockReason"]
        detail = feedback.get("blockReasonMessage")
        raise ProviderError(
            f"the prompt was blocked: {reason}" + (f" ({detail})" if detail else ""), permanent=True
        )
    candidates = data.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
        raise ProviderError("no candidates in the reply: the prompt was probably blocked", permanent=True)
    candidate = candidates[0]
    finish = candidate.get("finishReason")
    if finish in BLOCKED_FINISH:
        flagged = [
            str(rating.get("category"))
            for rating in candidate.get("safetyRatings") or []
            if isinstance(rating, dict) and rating.get("blocked")
        ]
        which = f" ({', '.join(flagged)})" if flagged else ""
        raise ProviderError(f"the reply was withheld: finishReason {finish}{which}", permanent=True)
    content = candidate.get("content") if isinstance(candidate.get("content"), dict) else {}
    parts = content.get("parts") if isinstance(content.get("parts"), list) else []
    text = "".join(
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")
    )
    usage = data.get("usageMetadata") if isinstance(data.get("usageMetadata"), dict) else {}
    tokens_out = as_count(usage.get("candidatesTokenCount"))
    thoughts = as_count(usage.get("thoughtsTokenCount"))
    if tokens_out is not None and thoughts is not None:
        tokens_out += thoughts  # thinking tokens are billed as output
    model = data.get("modelVersion")
    return Parsed(
        text=text,
        model=model if isinstance(model, str) and model else None,
        tokens_in=as_count(usage.get("promptTokenCount")),
        tokens_out=tokens_out,
    )
