"""Who may do what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A person's role: admins manage accounts and settings, operators publish."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Actor:
    """A person acting through the bot."""

    user_id: int
    role: Role
    language: str
    timezone: str

    @property
    def label(self) -> str:
        """Return how history rows name this person."""
        return f"user:{self.user_id}"


class AccessList:
    """Maps Telegram user ids to roles; anyone not listed has none."""

    def __init__(self, admin_ids: Iterable[int], operator_ids: Iterable[int]) -> None:
        self._roles = {uid: Role.OPERATOR for uid in operator_ids}
        self._roles.update({uid: Role.ADMIN for uid in admin_ids})

    def role_of(self, user_id: int) -> Role | None:
        """Return the person's role, or None for a stranger."""
        return self._roles.get(user_id)
