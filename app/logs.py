"""Logging set-up for the entry point: one format, noisy libraries quiet, secrets masked."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "apscheduler",
    "alembic",
    "telegram.ext.Updater",
    "googleapiclient",
)
_BOT_TOKEN = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """Mask anything shaped like a bot token."""
    return _BOT_TOKEN.sub("<bot-token>", text)


class RedactingFilter(logging.Filter):
    """Masks known secrets and anything shaped like a bot token in every record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = _BOT_TOKEN.sub("<bot-token>", message)
        for secret in self._secrets:
            clean = clean.replace(secret, "***")
        if clean != message:
            record.msg, record.args = clean, None
        return True


class ActionFormatter(logging.Formatter):
    """Adds the record's `action`, task and account to the line when it has them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{name}={getattr(record, name)}"
            for name in ("action", "task_id", "account_id")
            if getattr(record, name, None) is not None
        ]
        return f"{line} [{' '.join(fields)}]" if fields else line


def configure(level: str, secrets: Iterable[str]) -> None:
    """Configure the root logger once, for the command-line entry point."""
    handler = logging.StreamHandler()
    handler.setFormatter(ActionFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
