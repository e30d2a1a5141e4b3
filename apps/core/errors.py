"""One exception family per domain. Views, commands and the admin turn them into messages."""

from __future__ import annotations


class AppError(Exception):
    """An error a user can act on: ``message`` says what happened, ``hint`` what to do about it."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class SyncError(AppError):
    """A sync could not run or did not finish; earlier mirrored data is left as it was."""


class SyncAlreadyRunning(SyncError):
    """A second sync of a source while one is queued or running."""


class SourceError(AppError):
    """A source definition that cannot be saved or used."""
