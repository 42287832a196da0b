"""YouTube's limits on video metadata, checked before anything is uploaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.errors import MetadataError
from core.models import Privacy, VideoMetadata

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
#: YouTube refuses these in titles and descriptions.
FORBIDDEN_CHARS = "<>"
#: Categories a video can be uploaded into (the others, such as 18 and 21, are not assignable).
CATEGORY_IDS = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
)


def tags_length(tags: Sequence[str]) -> int:
    """Count tags the way YouTube does: joined by commas, a tag with a space inside quotes."""
    if not tags:
        return 0
    return sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + len(tags) - 1


def effective_privacy(privacy: Privacy, publish_at: datetime | None) -> Privacy:
    """Return the privacy to upload with: YouTube only schedules a publish on a private video."""
    return Privacy.PRIVATE if publish_at is not None else privacy


def validate_metadata(
    meta: VideoMetadata, privacy: Privacy, publish_at: datetime | None, now: datetime
) -> None:
    """Raise MetadataError for the first YouTube limit that the metadata breaks.

    `privacy` is what the person asked for, not `effective_privacy`'s upload privacy.
    """
    _check_title(meta.title)
    description_bytes = len(meta.description.encode("utf-8", "surrogatepass"))
    if description_bytes > DESCRIPTION_MAX_BYTES:
        raise MetadataError(
            "meta.description_too_long", length=description_bytes, limit=DESCRIPTION_MAX_BYTES
        )
    if any(ch in meta.description for ch in FORBIDDEN_CHARS):
        raise MetadataError("meta.description_angle_brackets")
    length = tags_length(meta.tags)
    if length > TAGS_MAX_CHARS:
        raise MetadataError("meta.tags_too_long", length=length, limit=TAGS_MAX_CHARS)
    if meta.category_id not in CATEGORY_IDS:
        raise MetadataError("meta.bad_category", category=meta.category_id)
    if publish_at is not None:
        _check_publish_at(privacy, publish_at, now)


def _check_title(title: str) -> None:
    """Raise MetadataError if the title is empty, too long or has a forbidden character."""
    if not title.strip():
        raise MetadataError("meta.title_empty")
    if len(title) > TITLE_MAX_CHARS:
        raise MetadataError("meta.title_too_long", length=len(title), limit=TITLE_MAX_CHARS)
    if any(ch in title for ch in FORBIDDEN_CHARS):
        raise MetadataError("meta.title_angle_brackets")


def _check_publish_at(privacy: Privacy, publish_at: datetime, now: datetime) -> None:
    """Raise MetadataError unless a scheduled publish is in the future and meant to be public."""
    # At publishAt YouTube makes the video public, so any other wish would be exceeded.
    if privacy != Privacy.PUBLIC:
        raise MetadataError("meta.publish_at_needs_public", privacy=privacy.value)
    if publish_at <= now:
        raise MetadataError(
            "meta.publish_at_past", when=f"{publish_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )
