from __future__ import annotations

import itertools
import struct
import time
import zlib
from pathlib import Path

import av
import pytest

from bot.messages_input import INPUT_MESSAGES
from core.errors import MediaError
from media.clips import make_audio_only, make_clip
from media.probe import probe

PROC_IO = Path("/proc/self/io")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    make_clip(folder / "clip.mp4")
    make_clip(folder / "faststart.mp4", faststart=True)
    return folder


def _refusal(path: Path) -> str:
    with pytest.raises(MediaError) as info:
        probe(path)
    for lang in ("en", "zh"):
        assert INPUT_MESSAGES[info.value.key][lang].format(**info.value.params)
    return info.value.key


def _cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def test_real_clip_is_accepted_with_its_size_and_duration(clips: Path) -> None:
    result = probe(clips / "clip.mp4")
    assert (result.width, result.height) == (320, 240)
    assert result.duration_s == pytest.approx(3.0, abs=0.1)
    assert result.codec == "h264"
    assert result.has_audio
    assert "mp4" in result.container


def test_faststart_clip_is_accepted(clips: Path) -> None:
    assert probe(clips / "faststart.mp4").duration_s == pytest.approx(3.0, abs=0.1)


def test_clip_without_sound_reports_no_audio(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "silent.mp4", seconds=1.0, width=640, height=360, audio=False)
    result = probe(path)
    assert not result.has_audio
    assert (result.width, result.height, round(result.duration_s)) == (640, 360, 1)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert _refusal(path) == "media.empty"


def test_text_file_renamed_mp4_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("shopping list: milk, eggs\n" * 50)
    assert _refusal(path) == "media.not_video"


def test_picture_renamed_mp4_is_not_a_video(tmp_path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\xff\x00" * 2)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )
    path = tmp_path / "photo.mp4"
    path.write_bytes(png)
    assert _refusal(path) == "media.not_video"


def test_first_half_of_a_clip_is_unreadable(clips: Path, tmp_path: Path) -> None:
    # The index sits at the end of a plain MP4, so half a file has none.
    assert _refusal(_cut(clips / "clip.mp4", tmp_path / "half.mp4", 0.5)) == "media.unreadable"


def test_first_half_of_a_faststart_clip_is_unreadable(clips: Path, tmp_path: Path) -> None:
    # Here the index and the first frames survive; the missing tail gives it away.
    half = _cut(clips / "faststart.mp4", tmp_path / "half.mp4", 0.5)
    assert _refusal(half) == "media.unreadable"


def test_clip_missing_only_its_last_bytes_is_unreadable(clips: Path, tmp_path: Path) -> None:
    cut = _cut(clips / "faststart.mp4", tmp_path / "cut.mp4", 0.99)
    assert _refusal(cut) == "media.unreadable"


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = make_audio_only(tmp_path / "voice.m4a", seconds=1.0)
    assert _refusal(path) == "media.no_video_stream"


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    assert _refusal(tmp_path / "gone.mp4") == "media.unreadable"


@pytest.mark.skipif(not PROC_IO.exists(), reason="needs Linux /proc/self/io")
def test_probe_reads_a_small_part_of_a_long_file(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "long.mp4", seconds=30, width=640, height=360, audio=False)

    def bytes_read() -> int:
        line = next(x for x in PROC_IO.read_text().splitlines() if x.startswith("rchar"))
        return int(line.split()[1])

    before, started = bytes_read(), time.perf_counter()
    assert probe(path).duration_s == pytest.approx(30.0, abs=0.1)
    elapsed_s, read = time.perf_counter() - started, bytes_read() - before
    assert read < path.stat().st_size / 4
    assert elapsed_s < 0.5


def test_make_clip_is_fast_and_its_frames_move(tmp_path: Path) -> None:
    started = time.perf_counter()
    path = make_clip(tmp_path / "clip.mp4")
    assert time.perf_counter() - started < 1.0
    with av.open(str(path)) as container:
        frames = [bytes(f.planes[0]) for f in itertools.islice(container.decode(video=0), 3)]
    assert len(set(frames)) == 3


def test_seeds_give_different_files(tmp_path: Path) -> None:
    one = make_clip(tmp_path / "one.mp4", seconds=0.4, seed=1).read_bytes()
    two = make_clip(tmp_path / "two.mp4", seconds=0.4, seed=2).read_bytes()
    assert one != two


def test_make_clip_refuses_odd_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_clip(tmp_path / "odd.mp4", width=321)
