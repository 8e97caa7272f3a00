"""landopp's exception hierarchy, rooted at :class:`LandoppError`.

Every exception carries the stable error ``code`` of the Rust core (``"NOT_FOUND"``,
``"FORMAT"``, ...), the same code Node's ``err.code`` and the CLI print.
"""

from __future__ import annotations


class LandoppError(Exception):
    """Base class of every landopp error. ``code`` is the stable error code."""

    code: str = "LANDOPP"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFoundError(LandoppError, FileNotFoundError):
    """A file, layer, band or column does not exist (``NOT_FOUND``)."""

    code = "NOT_FOUND"


class IoError(LandoppError, OSError):
    """The operating system refused a read or write (``IO``)."""

    code = "IO"


class FormatError(LandoppError, ValueError):
    """A file is not valid for its format: truncated, corrupt (``FORMAT``)."""

    code = "FORMAT"


class UnsupportedError(LandoppError, NotImplementedError):
    """A valid input uses something landopp does not implement (``UNSUPPORTED``)."""

    code = "UNSUPPORTED"


class InvalidInputError(LandoppError, ValueError):
    """An argument or option is out of its documented domain (``INVALID_INPUT``)."""

    code = "INVALID_INPUT"


class InvalidGeometryError(LandoppError, ValueError):
    """A geometry cannot be used: NaN coordinates, wrong type (``INVALID_GEOMETRY``)."""

    code = "INVALID_GEOMETRY"


class CrsError(LandoppError, ValueError):
    """Unknown or unparsable CRS, or a failed transformation (``CRS``)."""

    code = "CRS"


class EmptyError(LandoppError, ValueError):
    """Nothing to work on: empty layer or selection (``EMPTY``)."""

    code = "EMPTY"


class StoppedError(LandoppError):
    """Work stopped on request (``INTERRUPTED``). Ctrl-C during a call raises the usual
    ``KeyboardInterrupt`` instead; this class is for stops requested some other way."""

    code = "INTERRUPTED"


class IntegrityError(LandoppError, ValueError):
    """Stored data failed an integrity check: tampered model file, bad signature, wrong key
    (``INTEGRITY``)."""

    code = "INTEGRITY"


class InternalError(LandoppError, RuntimeError):
    """A bug in landopp, caught before it could take the interpreter down (``INTERNAL``):
    please report it with the input that caused it."""

    code = "INTERNAL"


class RemoteError(LandoppError, OSError):
    """A remote service or file server failed or answered something unusable, after retries:
    an HTTP error status, a refused connection, a timeout, a body that is not what the protocol
    says (``REMOTE``). The message names the URL without its query string, and the HTTP status
    when there was one."""

    code = "REMOTE"


_BY_CODE: dict[str, type[LandoppError]] = {
    cls.code: cls
    for cls in (NotFoundError, IoError, FormatError, UnsupportedError, InvalidInputError,
                InvalidGeometryError, CrsError, EmptyError, StoppedError, IntegrityError, InternalError,
                RemoteError)
}


def _from_code(code: str, message: str) -> LandoppError:
    """Build the exception for a core error code (used by the native module)."""
    return _BY_CODE.get(code, LandoppError)(f"[{code}] {message}", code)


__all__ = ["LandoppError", "NotFoundError", "IoError", "FormatError", "UnsupportedError",
           "InvalidInputError", "InvalidGeometryError", "CrsError", "EmptyError", "StoppedError", "IntegrityError",
           "InternalError", "RemoteError"]
