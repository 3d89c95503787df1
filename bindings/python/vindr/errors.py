"""Exceptions raised by the vindr package; each carries the C status code and the message."""
from __future__ import annotations

from ._constants import (VDR_ERR_ARGUMENT, VDR_ERR_BUFFER_TOO_SMALL, VDR_ERR_CSV, VDR_ERR_DECODE, VDR_ERR_FORMAT,
                         VDR_ERR_INTERNAL, VDR_ERR_IO, VDR_ERR_NO_MEMORY, VDR_ERR_NO_PIXEL_DATA, VDR_ERR_UNSUPPORTED)


class VinDrError(Exception):
    """Base class: `.status` is the C ABI status code, `.message` the library's message."""

    status = VDR_ERR_INTERNAL

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidArgumentError(VinDrError, ValueError):
    status = VDR_ERR_ARGUMENT


class VinDrIOError(VinDrError, OSError):
    status = VDR_ERR_IO


class FormatError(VinDrError):
    status = VDR_ERR_FORMAT


class NoPixelDataError(VinDrError):
    status = VDR_ERR_NO_PIXEL_DATA


class UnsupportedError(VinDrError):
    status = VDR_ERR_UNSUPPORTED


class DecodeError(VinDrError):
    status = VDR_ERR_DECODE


class BufferTooSmallError(VinDrError):
    status = VDR_ERR_BUFFER_TOO_SMALL


class CSVFormatError(VinDrError):
    status = VDR_ERR_CSV


class InternalError(VinDrError):
    status = VDR_ERR_INTERNAL


class OutOfMemoryError(VinDrError, MemoryError):
    """A buffer the call needs could not be allocated (e.g. under `ulimit -v`); the process lives."""
    status = VDR_ERR_NO_MEMORY


_BY_STATUS = {cls.status: cls for cls in (InvalidArgumentError, VinDrIOError, FormatError, NoPixelDataError,
                                           UnsupportedError, DecodeError, BufferTooSmallError, CSVFormatError,
                                           InternalError, OutOfMemoryError)}


def raise_for_status(status: int, message: str) -> None:
    cls = _BY_STATUS.get(status, VinDrError)
    raise cls(message, status)
