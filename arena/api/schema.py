"""The schema's standard errors: every operation documents the errors any request to it can get.

drf-spectacular documents what a view declares; the errors that come from the framework
(a missing login, a CSRF failure, a malformed body, an object that is not yours) apply to
whole classes of operations, so they are added here, once, with the one error body.
"""
from __future__ import annotations

from typing import Any

STANDARD = {
    "400": "The request is invalid: `fields` names each bad field (unknown fields included).",
    "401": "Not signed in: send `Authorization: Token …` or log in (`POST /api/auth/login/`).",
    "403": "Signed in but not allowed (another role, or a session request without its CSRF token).",
    "404": "No such object, or it is not yours.",
    "405": "This method is not allowed here.",
    "415": "Send JSON (`Content-Type: application/json`).",
    "429": "Too many requests: wait and try again.",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def standard_errors(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS``: add the framework's errors to every operation that can get them."""
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            signed_in = any(scheme for scheme in operation.get("security", [{}]) if scheme)
            wanted = ["405", "429"]
            if signed_in:
                wanted += ["401", "403"]
            if "{" in path:
                wanted.append("404")
            query = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
            if query:
                wanted.append("400")  # a filter or page parameter of the wrong type or value
            if "format" in query:  # a format this view does not render: told in its own format
                responses.setdefault("404", {"description": "No renderer for this format."})
            if method in {"post", "put", "patch"}:
                wanted += ["400", "403", "415"]
            for status in wanted:
                responses.setdefault(status, _error(STANDARD[status]))
    return result
