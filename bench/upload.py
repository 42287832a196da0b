"""Upload benchmark: the product's resumable upload of one big file beside curl sending the same.

`python -m bench.upload` writes a file of random bytes (`--size-mb`, default 1024 MiB, and a
quarter of it) in a temporary folder, starts the YouTube sandbox in its own process, and at each
size runs `--repeats` rounds of two uploads into it, in alternating order:

- the product: platforms.youtube.YouTubePublisher with the chunk size a deployment gets by
  default (Settings.upload_chunk_mb, 8 MiB), in a process of its own (`--worker`) that reports
  its peak RSS (`ru_maxrss`) and CPU time at the end, so the figures are the upload's alone;
- curl: the session-creating POST the client sends, then one PUT of the whole file.

It prints throughput (MiB/s from the session POST to the final answer), the product/curl ratio
(the median of the ratios within each round, so both sides of a ratio saw the same load on a
shared machine), the sender's CPU seconds per GiB, the product's peak RSS at both sizes, and
whether the sandbox received the right sha256 every time. When the ratio target is missed it
also measures what-ifs at the smaller size (another chunk size through the publisher's
`chunk_size` argument, and http.client's send block patched in the worker process only) and
prints a cProfile of the product's upload thread.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httplib2

from bench.emulator import REPO_ROOT, YouTubeProcess, access_token, add_channel, get_json
from core.models import Credentials, Privacy, VideoMetadata
from core.ports import UploadRequest
from core.settings import Settings
from media.store import LocalMediaStore
from platforms.youtube import YouTubePublisher

MIB = 1024 * 1024
TARGET_RATIO = 0.7
TARGET_RSS_MIB = 200.0
WRITE_BLOCK_B = 8 * MIB
RUN_TIMEOUT_S = 600.0
CURL = "curl"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "bench-client", "bench-secret", "bench-refresh"
#: The chunk size a deployment gets when PM_UPLOAD_CHUNK_MB is not set.
DEFAULT_CHUNK_MIB: int = Settings.model_fields["upload_chunk_mb"].default
#: What-ifs measured when the ratio target is missed: a bigger chunk (a setting), bigger send
#: blocks (a code change), both.
WHAT_IFS = ((32, None), (DEFAULT_CHUNK_MIB, 1024), (32, 1024))


@dataclass(frozen=True)
class Variant:
    """How the product uploads: its chunk size, and optionally a patched send block (what-if)."""

    chunk_mib: int
    send_block_kib: int | None = None

    @property
    def label(self) -> str:
        """Describe the variant in a few words."""
        if self.send_block_kib is None:
            return f"chunk {self.chunk_mib} MiB"
        return f"chunk {self.chunk_mib} MiB, http.client blocksize {self.send_block_kib} KiB"


@dataclass
class Run:
    """One upload: who sent it, in which round, how long it took, what the sandbox got."""

    tool: str
    round: int
    size: int
    seconds: float
    cpu_s: float
    verified: bool = False
    rss_peak_kib: int = 0
    rss_base_kib: int = 0

    @property
    def mib_s(self) -> float:
        """Return the throughput from the session POST to the final answer."""
        return self.size / MIB / self.seconds


@dataclass
class Series:
    """Every run at one size."""

    size: int
    runs: list[Run] = field(default_factory=list)

    def of(self, tool: str) -> list[Run]:
        """Return one tool's runs."""
        return [r for r in self.runs if r.tool == tool]

    def median(self, tool: str) -> float:
        """Return the median throughput of one tool's runs."""
        return statistics.median(r.mib_s for r in self.of(tool))

    def spread(self, tool: str) -> str:
        """Return the lowest and highest throughput of one tool's runs."""
        values = [r.mib_s for r in self.of(tool)]
        return f"{min(values):.0f}-{max(values):.0f}"

    def ratio(self, tool: str) -> float:
        """Return the median, over rounds, of the tool's throughput over curl's in that round."""
        curl = {r.round: r.mib_s for r in self.of(CURL)}
        return statistics.median(r.mib_s / curl[r.round] for r in self.of(tool))

    def cpu_per_gib(self, tool: str) -> float:
        """Return the median CPU seconds (user + system) the sender spent per GiB."""
        return statistics.median(r.cpu_s * 1024 * MIB / r.size for r in self.of(tool))

    def peak_rss_mib(self, tool: str) -> tuple[float, float]:
        """Return the highest peak RSS and the highest after-imports RSS of the tool's runs."""
        runs = self.of(tool)
        return max(r.rss_peak_kib for r in runs) / 1024, max(r.rss_base_kib for r in runs) / 1024


def write_files(root: Path, sizes_mib: list[int]) -> dict[int, tuple[Path, str]]:
    """Write one file of random bytes per size (each a prefix of the largest); return paths
    and sha256 by size in bytes."""
    largest = max(sizes_mib) * MIB
    targets = {s * MIB: root / f"upload-{s}mib.bin" for s in sizes_mib}
    digests = {size: hashlib.sha256() for size in targets}
    outs = {size: path.open("wb") for size, path in targets.items()}
    try:
        written = 0
        while written < largest:
            block = os.urandom(min(WRITE_BLOCK_B, largest - written))
            for size, out in outs.items():
                part = block[: max(0, size - written)]
                if part:
                    out.write(part)
                    digests[size].update(part)
            written += len(block)
    finally:
        for out in outs.values():
            out.close()
    return {size: (targets[size], digests[size].hexdigest()) for size in targets}


def received(api_url: str, title: str) -> dict[str, Any] | None:
    """Return the sandbox's record of the video with that title, if it completed."""
    for video in get_json(api_url + "_sandbox/videos"):
        if video["title"] == title:
            return dict(video)
    return None


def verify(api_url: str, title: str, size: int, sha256: str) -> bool:
    """Check what the sandbox stored, then delete its copy to keep the disk free."""
    video = received(api_url, title)
    if video is None:
        return False
    Path(video["path"]).unlink(missing_ok=True)
    return bool(video["size"] == size and video["sha256"] == sha256)


def run_product(
    yt: YouTubeProcess,
    path: Path,
    title: str,
    variant: Variant,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Upload through YouTubePublisher in a fresh process; return what the worker reported."""
    command = [sys.executable, "-m", "bench.upload", "--worker", str(path), "--title", title]
    command += ["--api-url", yt.url, "--token-uri", yt.token_uri]
    command += ["--chunk-mb", str(variant.chunk_mib)]
    if variant.send_block_kib:
        command += ["--send-block-kb", str(variant.send_block_kib)]
    if profile is not None:
        command += ["--profile-out", str(profile)]
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    if done.returncode != 0:
        raise RuntimeError(f"the upload worker failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_curl(yt: YouTubeProcess, path: Path, title: str, size: int) -> tuple[float, float]:
    """Create a session like the client does and PUT the whole file with curl; return the
    seconds from the POST to the final answer and curl's CPU seconds."""
    url = yt.url + "upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
    token = access_token(yt.token_uri, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    metadata = json.dumps({"snippet": {"title": title, "categoryId": "22"}, "status": {}})
    create = _headers(
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        "X-Upload-Content-Type: video/mp4",
        f"X-Upload-Content-Length: {size}",
    )
    send = _headers(
        f"Authorization: Bearer {token}",
        "Content-Type: video/mp4",
        f"Content-Range: bytes 0-{size - 1}/{size}",
        "Expect:",  # no 100-continue round trip; the client library does not wait for one
    )
    cpu_before = _cpu_s(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    answer = _curl(
        [*create, "-X", "POST", "-D", "-", "-o", os.devnull, "--data-binary", metadata, url]
    )
    location = next(
        line.split(":", 1)[1].strip()
        for line in answer.splitlines()
        if line.lower().startswith("location:")
    )
    status = _curl([*send, "-T", str(path), "-o", os.devnull, "-w", "%{http_code}", location])
    ended = time.perf_counter()
    if status.strip() not in ("200", "201"):
        raise RuntimeError(f"curl's PUT was answered {status.strip()}")
    return ended - began, _cpu_s(resource.RUSAGE_CHILDREN) - cpu_before


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _headers(*lines: str) -> list[str]:
    return [arg for line in lines for arg in ("-H", line)]


def _curl(args: list[str]) -> str:
    command = ["curl", "--silent", "--show-error", "--max-time", str(int(RUN_TIMEOUT_S)), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S + 10)
    if done.returncode != 0:
        raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def measure(
    yt: YouTubeProcess, path: Path, size: int, sha256: str, variants: list[Variant], rounds: int
) -> Series:
    """Run curl and every variant once per round, rotating the order from round to round."""
    series = Series(size)
    entrants: list[Variant | None] = [None, *variants]
    for index in range(rounds):
        turn = index % len(entrants)
        for entrant in entrants[turn:] + entrants[:turn]:
            tool = CURL if entrant is None else entrant.label
            title = f"bench {tool} {size // MIB} MiB #{index}"
            if entrant is None:
                seconds, cpu_s = run_curl(yt, path, title, size)
                run = Run(tool, index, size, seconds, cpu_s)
            else:
                got = run_product(yt, path, title, entrant)
                run = Run(tool, index, size, got["seconds"], got["cpu_s"])
                run.rss_peak_kib, run.rss_base_kib = got["rss_peak_kib"], got["rss_base_kib"]
            run.verified = verify(yt.url, title, size, sha256)
            series.runs.append(run)
    return series


def run_worker(args: argparse.Namespace) -> None:
    """Upload one file through YouTubePublisher; print one JSON line with time, CPU and RSS."""
    path: Path = args.worker
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    publisher = YouTubePublisher(
        args.api_url, LocalMediaStore(path.parent), chunk_size=args.chunk_mb * MIB
    )
    size = path.stat().st_size
    request = UploadRequest(
        task_id=1,
        account_id=1,
        credentials=Credentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, args.token_uri),
        metadata=VideoMetadata(title=args.title),
        privacy=Privacy.PRIVATE,
        publish_at=None,
        media_key=path.name,
        media_size=size,
        mime_type="video/mp4",
    )
    confirmed: list[int] = []

    async def on_progress(uri: str, offset: int, total: int) -> None:
        confirmed.append(offset)

    profiler = cProfile.Profile() if args.profile_out else None
    if profiler is not None:
        _profile_upload_thread(publisher, profiler)
    if args.send_block_kb:
        _patch_send_block(args.send_block_kb * 1024)

    async def upload() -> tuple[float, str]:
        began = time.perf_counter()
        result = await publisher.upload(request, on_progress)
        return time.perf_counter() - began, result.video_id

    cpu_before = _cpu_s(resource.RUSAGE_SELF)
    seconds, video_id = asyncio.run(upload())
    cpu = _cpu_s(resource.RUSAGE_SELF) - cpu_before
    if profiler is not None:
        profiler.dump_stats(args.profile_out)
    report = {
        "seconds": seconds,
        "bytes": size,
        "video_id": video_id,
        "offsets_confirmed": len(confirmed),
        "cpu_s": cpu,
        "rss_base_kib": rss_base,
        "rss_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(report), flush=True)


def _profile_upload_thread(publisher: YouTubePublisher, profiler: cProfile.Profile) -> None:
    """Profile the worker thread the publisher uploads in (cProfile sees one thread only)."""
    upload_sync = publisher._upload_sync

    def profiled(*args: Any) -> Any:
        profiler.enable()
        try:
            return upload_sync(*args)
        finally:
            profiler.disable()

    publisher._upload_sync = profiled  # type: ignore[method-assign]


def _patch_send_block(size: int) -> None:
    """What-if, in this worker only: make http.client read and send bodies in `size` blocks.

    http.client sends a body that has `read()` (googleapiclient's chunk slice is one) in
    `HTTPConnection.blocksize` pieces, 8 KiB by default, one sendall each.
    """
    original = httplib2.HTTPConnectionWithTimeout.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.blocksize = size

    httplib2.HTTPConnectionWithTimeout.__init__ = init


def print_profile(path: Path, size: int, limit: int = 12) -> None:
    """Print the functions that took the most time of their own in a profile."""
    buffer = io.StringIO()
    stats = pstats.Stats(str(path), stream=buffer)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    lines = buffer.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    total = next((line.strip() for line in lines if "function calls" in line), "")
    print(f"  cProfile of the upload thread, one {size // MIB} MiB upload ({total}), by own time:")
    for line in lines[start : start + limit + 1]:
        print(f"    {line.rstrip()}")


def print_report(args: argparse.Namespace, table: list[Series], variant: Variant) -> bool:
    """Print the figures and targets; return True when the ratio target was met everywhere."""
    tool = variant.label
    print(
        f"upload benchmark: YouTubePublisher ({tool}) vs curl (one PUT) into the YouTube "
        f"sandbox in its own process; {args.repeats} rounds per size, order alternating; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("  size      MiB/s median (range)          ratio  sender CPU s/GiB  product peak RSS")
    print("            product         curl                 product / curl  (after imports)")
    ratios_ok = True
    for series in table:
        ratio = series.ratio(tool)
        ratios_ok &= ratio >= TARGET_RATIO
        peak, base = series.peak_rss_mib(tool)
        good = sum(r.verified for r in series.runs)
        print(
            f"  {series.size // MIB:>4} MiB  {series.median(tool):4.0f} ({series.spread(tool):>7})"
            f"  {series.median(CURL):4.0f} ({series.spread(CURL):>7})  {ratio:5.2f}"
            f"  {series.cpu_per_gib(tool):5.2f} / {series.cpu_per_gib(CURL):4.2f}"
            f"     {peak:4.0f} MiB ({base:.0f})   sha256 {good}/{len(series.runs)} ok"
        )
    peaks = [s.peak_rss_mib(tool)[0] for s in table]
    growth = peaks[-1] - peaks[0]
    rss_ok = max(peaks) < TARGET_RSS_MIB and growth < 0.1 * TARGET_RSS_MIB
    print(
        f"  targets: ratio >= {TARGET_RATIO}: {'met' if ratios_ok else 'NOT met'}; peak RSS < "
        f"{TARGET_RSS_MIB:.0f} MiB and flat: {'met' if rss_ok else 'NOT met'} "
        f"({growth:+.1f} MiB from {table[0].size // MIB} to {table[-1].size // MIB} MiB)"
    )
    return ratios_ok


def print_what_ifs(series: Series, variants: list[Variant]) -> None:
    """Print each variant's figures against curl in the same rounds."""
    print(
        f"  what-ifs at {series.size // MIB} MiB, {len(series.of(CURL))} rounds "
        f"(curl median {series.median(CURL):.0f} MiB/s, {series.cpu_per_gib(CURL):.2f} CPU s/GiB):"
    )
    for variant in variants:
        tool = variant.label
        print(
            f"    {tool:<44} {series.median(tool):4.0f} MiB/s  ratio {series.ratio(tool):4.2f}"
            f"  CPU {series.cpu_per_gib(tool):4.2f} s/GiB  peak RSS "
            f"{series.peak_rss_mib(tool)[0]:.0f} MiB"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line (the benchmark's, or a worker's)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.upload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="largest file, MiB")
    parser.add_argument("--small-mb", type=int, help="the other size, MiB (default: a quarter)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds per size")
    parser.add_argument(
        "--chunk-mb",
        type=int,
        default=DEFAULT_CHUNK_MIB,
        help=f"the product's chunk, MiB (default: {DEFAULT_CHUNK_MIB}, the Settings default)",
    )
    parser.add_argument(
        "--what-ifs", action="store_true", help="measure the what-ifs and profile even if met"
    )
    parser.add_argument("--what-if-rounds", type=int, default=5)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--title", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--token-uri", help=argparse.SUPPRESS)
    parser.add_argument("--send-block-kb", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace) -> int:
    """Run every upload, print the report; return the exit status."""
    small = args.small_mb or max(1, args.size_mb // 4)
    sizes = sorted({small, args.size_mb})
    main_variant = Variant(args.chunk_mb)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pm-bench-upload-") as tmp:
        root = Path(tmp)
        files = write_files(root, sizes)
        with YouTubeProcess(root / "youtube", root / "youtube.log") as yt:
            add_channel(yt.url, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, "Bench upload channel")
            table = [
                measure(yt, path, size, sha256, [main_variant], args.repeats)
                for size, (path, sha256) in sorted(files.items())
            ]
            ratios_ok = print_report(args, table, main_variant)
            if args.what_ifs or not ratios_ok:
                size = min(files)
                path, sha256 = files[size]
                variants = [main_variant] + [Variant(c, b) for c, b in WHAT_IFS]
                table.append(measure(yt, path, size, sha256, variants, args.what_if_rounds))
                print_what_ifs(table[-1], variants)
                profile = root / "upload.prof"
                run_product(yt, path, "bench profiled upload", main_variant, profile)
                verify(yt.url, "bench profiled upload", size, sha256)
                print_profile(profile, size)
    print(f"  total wall time {time.monotonic() - began:.1f} s")
    bad = [r for s in table for r in s.runs if not r.verified]
    if bad:
        print(f"run broken: {len(bad)} uploads did not arrive intact")
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m bench.upload` (and of its worker processes)."""
    args = parse_args(argv)
    if args.worker is not None:
        run_worker(args)
        return
    sys.exit(run_benchmark(args))


if __name__ == "__main__":
    main()
