"""Exceptions raised by the vindr package; each carries the C status code and the message."""
from __future__ import annotations


class VinDrError(Exception):
    """Base class: `.status` is the C ABI status code, `.message` the library's message."""

    status = 9

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgumentError(VinDrError, ValueError):
    status = 1


class VinDrIOError(VinDrError, OSError):
    status = 2


class FormatError(VinDrError):
    status = 3


class NoPixelDataError(VinDrError):
    status = 4


class UnsupportedError(VinDrError):
    status = 5


class DecodeError(VinDrError):
    status = 6


class BufferTooSmallError(VinDrError):
    status = 7


class CSVFormatError(VinDrError):
    status = 8


class InternalError(VinDrError):
    status = 9


_BY_STATUS = {cls.status: cls for cls in (InvalidArgumentError, VinDrIOError, FormatError, NoPixelDataError,
                                           UnsupportedError, DecodeError, BufferTooSmallError, CSVFormatError,
                                           InternalError)}


def raise_for_status(status: int, message: str) -> None:
    cls = _BY_STATUS.get(status, VinDrError)
    raise cls(message, status)
