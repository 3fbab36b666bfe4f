"""Why the intake refuses a request: an HTTP status, a stable code and a message that says what was wrong.

Every refusal a client can cause is one of these, answered as ``{"error": {"code", "message", "field"}}``;
nothing a client sends reaches a 5xx. Messages name fields and limits, never quote values (they may be
personal data or an attack) and never contain secrets.
"""

from __future__ import annotations

from typing import Literal

Code = Literal[
    "unknown_source", "empty_body", "body_too_large", "unsupported_content_type", "unsupported_charset",
    "malformed_body", "invalid_encoding", "invalid_character", "too_deep", "too_many_fields", "field_too_long",
    "wrong_type",
    "missing_credentials", "bad_credentials", "rate_limited", "unavailable", "method_not_allowed", "busy",
    "request_timeout",
]


class Refused(Exception):
    def __init__(self, status: int, code: Code, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def malformed(message: str) -> Refused:
    return Refused(400, "malformed_body", message)
