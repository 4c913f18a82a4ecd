"""One family of errors for every layer: the API maps each kind to one status, the CLI and UI to one message.

Raise these (never a bare ValueError) where a caller did something the catalogue cannot accept, so a bug in our
own code (a ValueError from numpy, a corrupt model file) is never mistaken for a client error.
"""

from __future__ import annotations

from typing import Any


class TechmatchError(Exception):
    """Base of every error techmatch raises on purpose; `status` is the HTTP status it maps to.

    The message is English (the API's and the CLI's); `key` and `params`, where given, let an interface say the same
    in its own language (the workbench looks up `err_<key>` and names vocabulary codes in `params` by their label),
    so no page ever shows a raw code or an English sentence in Chinese mode."""

    status = 500
    code = "error"

    def __init__(self, message: str = "", *, key: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.key = key
        self.params = params


class NotFound(TechmatchError, LookupError):
    """An id that is not in the catalogue."""

    status = 404
    code = "not_found"


class Forbidden(TechmatchError):
    """A caller who may not do this (a wrong feed token, a listing of another organisation)."""

    status = 403
    code = "forbidden"


class Conflict(TechmatchError):
    """A request that clashes with the catalogue's current state (a duplicate name, a decision taken already)."""

    status = 409
    code = "conflict"


class Busy(Conflict):
    """Work that only one process may do at a time (a batch run, a snapshot) is already going elsewhere."""

    code = "busy"


class Throttled(TechmatchError):
    """Too many failed attempts (sign-in): try again after `retry_after` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, key="throttled", seconds=int(retry_after) + 1)
        self.retry_after = retry_after


class TooLarge(TechmatchError):
    """Input beyond a configured limit (rows in an import, a workbook's uncompressed size): refused before any work."""

    status = 413
    code = "too_large"


class Cancelled(TechmatchError):
    """Work stopped because its caller went away (an import whose client disconnected); nothing was written."""

    status = 499
    code = "cancelled"


class Invalid(TechmatchError, ValueError):
    """A value the caller sent that techmatch cannot use (an unknown method, an empty search, a bad sort)."""

    status = 422
    code = "invalid_value"


class Unavailable(TechmatchError):
    """The service cannot answer yet or any more (an index built by another encoder, a model not trained)."""

    status = 503
    code = "unavailable"


class SetupError(TechmatchError):
    """Settings or files on disk that keep techmatch from starting (a corrupt model, an unknown method)."""

    status = 500
    code = "setup_error"
