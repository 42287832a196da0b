"""Check that a received file is a playable video, and read its duration and size."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
from av.stream import Disposition

from core.errors import MediaError

logger = logging.getLogger(__name__)

#: Packets read while looking for the first decodable frame, before giving up.
FIRST_FRAME_MAX_PACKETS = 600
#: How far before the end the last packets are read back, to catch a cut-off download.
TAIL_CHECK_S = 1.0
TAIL_MAX_PACKETS = 2000
# FFmpeg opens pictures and text files as one-stream "videos"; YouTube takes none of them.
_NOT_VIDEO_FORMATS = frozenset({"image2", "gif", "apng", "tty", "lavfi", "webp", "jpegxl_anim"})
_SNIFF_BYTES = 192


@dataclass(frozen=True)
class ProbeResult:
    """What a video file holds, as far as publishing needs to know."""

    duration_s: float
    width: int
    height: int
    codec: str
    has_audio: bool
    #: FFmpeg's name of the container format, such as "mov,mp4,m4a,3gp,3g2,mj2".
    container: str


def probe(path: Path) -> ProbeResult:
    """Open a file, decode its first video frame and report it; raise MediaError if unusable."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError("media.unreadable") from exc
    if size == 0:
        raise MediaError("media.empty")
    try:
        container = av.open(str(path), mode="r", metadata_errors="replace")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        key = "media.unreadable" if _looks_like_media(path) else "media.not_video"
        raise MediaError(key) from exc
    with container:
        try:
            return _inspect(container)
        except av.error.FFmpegError as exc:
            raise MediaError("media.unreadable") from exc


def _inspect(container: Any) -> ProbeResult:
    """Check an opened container's streams, duration, first frame and tail."""
    format_name = str(container.format.name)
    if format_name in _NOT_VIDEO_FORMATS or format_name.endswith("_pipe"):
        raise MediaError("media.not_video")
    videos = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not videos:
        key = "media.no_video_stream" if container.streams.audio else "media.not_video"
        raise MediaError(key)
    stream = videos[0]
    width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    duration_s = _duration_s(container, stream)
    if width <= 0 or height <= 0 or duration_s <= 0:
        raise MediaError("media.unreadable")
    if not _decodes_a_frame(container, stream):
        raise MediaError("media.unreadable")
    _check_tail(container, stream, duration_s)
    return ProbeResult(
        duration_s=duration_s,
        width=width,
        height=height,
        codec=str(stream.codec_context.name),
        has_audio=bool(container.streams.audio),
        container=format_name,
    )


def _duration_s(container: Any, stream: Any) -> float:
    """Return the duration from container or stream metadata, or from the frame count."""
    if container.duration:
        return float(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    rate = stream.average_rate
    if stream.frames and rate:
        return float(stream.frames / rate)
    return 0.0


def _decodes_a_frame(container: Any, stream: Any) -> bool:
    """Tell whether the video stream yields a frame within its first packets."""
    for count, packet in enumerate(container.demux(stream)):
        if count >= FIRST_FRAME_MAX_PACKETS:
            return False
        if packet.is_corrupt:
            continue
        for _frame in packet.decode():
            return True
    return False


def _check_tail(container: Any, stream: Any, duration_s: float) -> None:
    """Read the packets of the last second; a cut-off file has none there, or a short one."""
    time_base = stream.time_base or Fraction(1, av.time_base)
    start = stream.start_time or 0
    target = start + int(max(0.0, duration_s - TAIL_CHECK_S) / time_base)
    try:
        container.seek(target, stream=stream, any_frame=True, backward=True)
    except av.error.FFmpegError:
        logger.debug("cannot seek to %s, tail of the file not checked", target)
        return
    packets = 0
    for packet in container.demux():
        if packet.is_corrupt:
            raise MediaError("media.unreadable")
        packets += packet.size > 0
        if packets >= TAIL_MAX_PACKETS:
            break
    if packets == 0:
        raise MediaError("media.unreadable")


def _looks_like_media(path: Path) -> bool:
    """Tell whether a file starts like a known video container, though FFmpeg refused it."""
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError:
        return False
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide")
        or head.startswith((b"\x1a\x45\xdf\xa3", b"FLV", b"\x00\x00\x01\xba", b"OggS"))
        or head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11")
        or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
        or (len(head) > 188 and head[0] == head[188] == 0x47)
    )
