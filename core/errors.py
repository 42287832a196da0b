"""The project's exception tree.

PublishManagerError
 +-- ConfigError            a setting is missing or malformed
 +-- StorageError           the database could not do what was asked
 +-- InputError             a person's input cannot be used (carries a catalogue key)
 |    +-- TimeParseError
 |    +-- MetadataError
 |    +-- MediaError        the file is not a playable video, or cannot be fetched
 +-- TaskStateError         a transition the state machine does not allow
 +-- LeaseLostError         another worker took over a task this process was working on
 +-- PublishError           a platform call failed (adapters translate into these)
      +-- TransientPublishError   retry later (5xx, 429, rate limits, dropped connections)
      +-- QuotaExceededError      the project's daily quota is spent; wait for the reset
      +-- UploadLimitError        the channel's own daily upload cap
      +-- AuthError               the account needs re-authorisation
      +-- ContentError            the request is wrong; retrying cannot help
      +-- SessionExpiredError     the resumable session is gone; start the upload over
"""

from __future__ import annotations

from typing import Any


class PublishManagerError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(PublishManagerError):
    """A setting is missing or malformed."""


class StorageError(PublishManagerError):
    """The database could not complete an operation."""


class InputError(PublishManagerError):
    """A person's input cannot be used; `key` names the catalogue message that explains it."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class TimeParseError(InputError):
    """A time expression could not be understood or is not acceptable."""


class MetadataError(InputError):
    """Video metadata breaks a platform limit."""


class MediaError(InputError):
    """A received file is not a playable video or cannot be fetched."""


class TaskStateError(PublishManagerError):
    """A task cannot move from its current state to the requested one."""

    def __init__(self, task_id: int, current: str, wanted: str) -> None:
        super().__init__(f"task {task_id}: {current} -> {wanted} is not allowed")
        self.task_id = task_id
        self.current = current
        self.wanted = wanted


class LeaseLostError(PublishManagerError):
    """This process's lease on a task lapsed and another worker took the task over."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"task {task_id}: lease lost")
        self.task_id = task_id


class PublishError(PublishManagerError):
    """A platform call failed; `reason` is the platform's short reason code."""

    def __init__(self, message: str, *, reason: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class TransientPublishError(PublishError):
    """A failure that is worth retrying after a delay."""

    def __init__(
        self,
        message: str,
        *,
        reason: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, status=status)
        self.retry_after_s = retry_after_s


class QuotaExceededError(PublishError):
    """The Google Cloud project's daily quota is spent."""


class UploadLimitError(PublishError):
    """The channel reached its own daily upload cap."""


class AuthError(PublishError):
    """The account's credentials no longer work; a person must re-authorise it."""


class ContentError(PublishError):
    """The platform refused the request itself; retrying the same request cannot succeed."""


class SessionExpiredError(PublishError):
    """The resumable upload session no longer exists on the platform."""
