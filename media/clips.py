"""Small real video and audio files, made on the spot for tests and the demo."""

from __future__ import annotations

import array
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

SAMPLE_RATE_HZ = 44_100
_BAR_PERIOD_PX = 64
_BAND_HEIGHT_PX = 16


def make_clip(
    path: Path,
    *,
    seconds: float = 3.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    audio: bool = True,
    seed: int = 0,
    faststart: bool = False,
) -> Path:
    """Write a playable H.264/AAC MP4 of a moving test pattern; `seed` varies picture and tone.

    `faststart` puts the index before the media data, as streaming-ready files have it.
    """
    if seconds <= 0 or fps <= 0:
        raise ValueError("seconds and fps must be positive")
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise ValueError("H.264 in yuv420p needs an even width and height")
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), mode="w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE_HZ, layout="mono") if audio else None
        for index in range(max(1, round(seconds * fps))):
            frame = _pattern_frame(index, width, height, seed)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _write_tone(container, sound, seconds, 440.0 + 20.0 * (seed % 20))
    return path


def make_audio_only(path: Path, seconds: float = 3.0) -> Path:
    """Write an AAC audio file (an .m4a) with no video stream."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    with av.open(str(path), mode="w", format="mp4") as container:
        sound = container.add_stream("aac", rate=SAMPLE_RATE_HZ, layout="mono")
        _write_tone(container, sound, seconds, 440.0)
    return path


def _pattern_frame(index: int, width: int, height: int, seed: int) -> av.VideoFrame:
    """Draw frame `index`: vertical bars sliding right and a light band sliding down."""
    ramp = bytes((x * 256 // _BAR_PERIOD_PX + seed * 37) % 256 for x in range(_BAR_PERIOD_PX))
    wide = ramp * (width // _BAR_PERIOD_PX + 2)
    shift = (index * 4) % _BAR_PERIOD_PX
    luma = bytearray(wide[shift : shift + width] * height)
    top = (index * 3) % height
    bottom = min(height, top + _BAND_HEIGHT_PX)
    luma[top * width : bottom * width] = b"\xeb" * ((bottom - top) * width)
    chroma_size = (width // 2) * (height // 2)
    planes = (
        bytes(luma),
        bytes([(seed * 50 + index * 2) % 256]) * chroma_size,
        bytes([(128 + seed * 20) % 256]) * chroma_size,
    )
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, data, plane_width in zip(
        frame.planes, planes, (width, width // 2, width // 2), strict=True
    ):
        plane.update(_pad_rows(data, plane_width, plane.line_size, plane.height))
    frame.pts = index
    return frame


def _pad_rows(data: bytes, width: int, line_size: int, rows: int) -> bytes:
    """Pad each row of a plane to the frame's line size, which may exceed the width."""
    if line_size == width:
        return data
    return b"".join(
        data[row * width : (row + 1) * width].ljust(line_size, b"\0") for row in range(rows)
    )


def _write_tone(container: Any, stream: Any, seconds: float, frequency_hz: float) -> None:
    """Encode a quiet sine tone of `seconds` into an audio stream and flush it."""
    frame_size = stream.codec_context.frame_size or 1024
    total = max(1, round(seconds * SAMPLE_RATE_HZ))
    step = 2 * math.pi * frequency_hz / SAMPLE_RATE_HZ
    for start in range(0, total, frame_size):
        samples = array.array(
            "f", (0.2 * math.sin(step * n) for n in range(start, start + frame_size))
        )
        frame = av.AudioFrame(format="fltp", layout="mono", samples=frame_size)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = SAMPLE_RATE_HZ
        frame.pts = start
        frame.time_base = Fraction(1, SAMPLE_RATE_HZ)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
