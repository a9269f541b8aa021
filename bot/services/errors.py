"""Why a domain action was refused: codes and kinds the handlers translate (no text here)."""

from __future__ import annotations


class InvalidEventField(ValueError):
    """Why a value typed into the event form was refused (a code the handler translates)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAllowed(PermissionError):
    """The member does not hold the role this action needs (checked again on every action)."""


class EventNotFound(LookupError):
    """No such event, or not in a state this action applies to."""


class WrongStatus(RuntimeError):
    """The event is no longer in the state the action expected (someone decided first)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status
