"""Domain errors that surfaces turn into clear 4xx answers or CLI messages."""

from __future__ import annotations


class BatonError(Exception):
    """Base of every error a user can cause; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(BatonError):
    """The thing does not exist in the caller's scope (another tenant's run is not found)."""

    status = 404
    code = "not_found"


class Forbidden(BatonError):
    """The caller is known but lacks the scope this operation needs."""

    status = 403
    code = "forbidden"


class Conflict(BatonError):
    """The request contradicts stored state (replayed approval, reused key with other data)."""

    status = 409
    code = "conflict"


class InvalidInput(BatonError):
    """The request is malformed or out of bounds."""

    status = 422
    code = "invalid_input"


class TooLarge(BatonError):
    """The request body or a field is over its size limit."""

    status = 413
    code = "too_large"
