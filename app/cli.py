"""The `publish-manager` command line."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import importlib.metadata
import logging
import os
import signal
import sys
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import logs
from app.wiring import build, build_ledger, open_store
from core.clock import SystemClock
from core.errors import PublishError, PublishManagerError, TransientPublishError
from core.models import Account, AccountStatus, Credentials
from core.ports import ChannelInfo, Clock
from core.settings import Settings, load_settings
from media.store import LocalMediaStore
from platforms.youtube import YouTubePublisher
from storage.ledger import SqlLedger
from storage.store import DuplicateAccountError

logger = logging.getLogger(__name__)

YOUTUBE_SCOPE = "https://www.googleapis.com/auth/youtube"
#: How long --interactive waits for the person to finish Google's consent page.
CONSENT_TIMEOUT_S = 600
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    top = argparse.ArgumentParser(
        prog="publish-manager",
        description="Publish videos to many YouTube channels from a Telegram bot.",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the bot and the engine in one process",
        description="Run the bot "
        "and the engine in one process until SIGINT or SIGTERM. Settings come from PM_* "
        "environment variables or .env (see .env.example).",
    )
    demo = commands.add_parser(
        "demo",
        help="run the whole flow against local emulators",
        description="Start emulated Telegram and YouTube servers on loopback, run the real "
        "application against them, send a video as a person would and publish it.",
    )
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    accounts = commands.add_parser(
        "accounts", help="manage publishing accounts", description="Manage accounts."
    )
    account_commands = accounts.add_subparsers(
        dest="accounts_command", required=True, metavar="list|add|reauth"
    )
    account_commands.add_parser(
        "list", help="list accounts", description="List every stored account."
    )
    add = account_commands.add_parser(
        "add", help="add an account", description="Add a publishing account."
    )
    platforms = add.add_subparsers(dest="platform", required=True, metavar="youtube")
    youtube = platforms.add_parser(
        "youtube",
        help="add a YouTube channel",
        description="Store a YouTube channel's OAuth credentials (encrypted with "
        "PM_SECRET_KEY). Give --refresh-token, or --interactive to run Google's "
        "installed-app consent flow in a browser.",
    )
    _credential_arguments(youtube)
    youtube.add_argument("--timezone", help="the channel audience's IANA time zone")
    youtube.add_argument(
        "--no-verify",
        action="store_true",
        help="store without asking YouTube which channel the token belongs to",
    )
    reauth = account_commands.add_parser(
        "reauth",
        help="give an account new credentials",
        description="Replace an account's OAuth credentials after its token expired or was "
        "revoked (the bot says when); its held tasks then go on by themselves.",
    )
    _credential_arguments(reauth, name_help="the name of the stored account (see accounts list)")
    return top


def _credential_arguments(
    command: argparse.ArgumentParser, name_help: str = "a short name to refer to the channel"
) -> None:
    command.add_argument("--name", required=True, help=name_help)
    command.add_argument("--client-id", required=True, help="OAuth client id (Google Cloud)")
    command.add_argument("--client-secret", required=True, help="OAuth client secret")
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--refresh-token", help="an OAuth refresh token for the channel")
    source.add_argument(
        "--interactive",
        action="store_true",
        help="print Google's consent page and wait for its answer on a loopback port",
    )
    command.add_argument(
        "--port",
        type=int,
        default=0,
        help="with --interactive: the loopback port Google redirects to (default: any free "
        "one); fix it to forward it from your laptop with ssh -L PORT:localhost:PORT",
    )


def _version() -> str:
    try:
        return importlib.metadata.version("publish-manager")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        secrets = [
            s.get_secret_value() for s in (settings.telegram_token, settings.secret_key) if s
        ]
        quiet = getattr(args, "quiet", False)
        logs.configure("WARNING" if quiet else settings.log_level, secrets)
        if args.command == "run":
            asyncio.run(run(settings))
        elif args.command == "demo":
            from app.demo import run_demo

            return asyncio.run(run_demo(quiet=args.quiet))
        elif args.accounts_command == "list":
            asyncio.run(list_accounts(settings))
        elif args.accounts_command == "reauth":
            asyncio.run(reauth(settings, args))
        else:
            asyncio.run(add_youtube(settings, args))
    except PublishManagerError as exc:
        print(f"publish-manager: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last resort: one line for a person, the trace for DEBUG
        logger.debug("unexpected failure", exc_info=True)
        detail = logs.redact(f"{type(exc).__name__}: {exc}")
        print(f"publish-manager: unexpected error: {detail} (PM_LOG_LEVEL=DEBUG shows where)")
        return 1
    return 0


async def run(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = hold_run_lock(settings.data_dir)
    manager = await build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await manager.start()
    try:
        await stop.wait()
    finally:
        await manager.stop()
        lock.close()


def hold_run_lock(data_dir: Path) -> TextIO:
    """Hold the data directory's run lock; a second `run` on it stops with one line."""
    handle = (data_dir / "run.lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise PublishManagerError(
            f"another publish-manager (pid {holder}) already runs on PM_DATA_DIR={data_dir}; "
            "Telegram allows one bot process per token"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


async def list_accounts(settings: Settings) -> None:
    """Print every account, one a line."""
    store = await open_store(settings)
    try:
        accounts = await store.list_accounts()
    finally:
        await store.close()
    if not accounts:
        print("no accounts; add one with: publish-manager accounts add youtube --help")
    for a in accounts:
        channel = f"{a.channel_id} {a.channel_title or ''}".strip() if a.channel_id else "-"
        print(f"{a.id}\t{a.name}\t{a.platform}\t{a.status.value}\t{a.timezone}\t{channel}")


async def add_youtube(settings: Settings, args: argparse.Namespace) -> None:
    """Store a YouTube channel given on the command line."""
    zone = args.timezone or settings.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PublishManagerError(f"--timezone: unknown time zone {zone!r}") from None
    credentials = await _credentials_from(settings, args)
    account = await register_youtube(
        settings, args.name, credentials, zone, verify=not args.no_verify
    )
    shown = f" ({account.channel_title}, {account.channel_id})" if account.channel_id else ""
    print(f"added account {account.id} {account.name}{shown}")


async def register_youtube(
    settings: Settings,
    name: str,
    credentials: Credentials,
    zone: str,
    *,
    verify: bool = True,
    clock: Clock | None = None,
) -> Account:
    """Store a YouTube account, first asking YouTube which channel the credentials act for."""
    channel_id = channel_title = None
    if verify:
        info = await _verify(settings, credentials, clock)
        channel_id, channel_title = info.channel_id, info.title
    store = await open_store(settings)
    try:
        return await store.add_account(
            platform="youtube",
            name=name,
            credentials=credentials,
            channel_id=channel_id,
            channel_title=channel_title,
            timezone=zone,
            now=datetime.now(UTC),
        )
    except DuplicateAccountError as exc:
        raise PublishManagerError(str(exc)) from None
    finally:
        await store.close()


async def reauth(settings: Settings, args: argparse.Namespace) -> None:
    """Give an account new credentials, check them with YouTube and make it active again."""
    credentials = await _credentials_from(settings, args)
    store = await open_store(settings)
    try:
        account = await store.account_by_name(args.name)
        if account is None:
            raise PublishManagerError(f"no account is named {args.name!r}; see accounts list")
        info = await _verify(settings, credentials)
        if account.channel_id and info.channel_id != account.channel_id:
            raise PublishManagerError(
                f"these credentials act for channel {info.channel_id} ({info.title}), "
                f"not for {account.channel_id}"
            )
        await store.update_credentials(account.id, credentials)
        await store.set_account_status(
            account.id, AccountStatus.ACTIVE, now=datetime.now(UTC), reason="re-authorised"
        )
    finally:
        await store.close()
    print(f"account {account.name} re-authorised ({info.title}, {info.channel_id})")


async def _credentials_from(settings: Settings, args: argparse.Namespace) -> Credentials:
    """Return the credentials given on the command line, or obtained by the consent flow."""
    for option in ("name", "client_id", "client_secret", "refresh_token"):
        value = getattr(args, option, None)
        if value is not None and not value.strip():
            raise PublishManagerError(f"--{option.replace('_', '-')} is empty")
    if args.refresh_token is not None:
        refresh_token = args.refresh_token.strip()
    else:
        refresh_token = await asyncio.to_thread(
            consent_flow, settings, args.client_id, args.client_secret, args.port
        )
    return Credentials(
        args.client_id.strip(),
        args.client_secret.strip(),
        refresh_token,
        settings.google_token_uri,
    )


async def _verify(
    settings: Settings, credentials: Credentials, clock: Clock | None = None
) -> ChannelInfo:
    store = await open_store(settings)
    # The check is an API call like any other: charged to the project's quota in the ledger.
    meter = build_ledger(settings, SqlLedger(store.engine), clock or SystemClock())
    publisher = YouTubePublisher(
        settings.youtube_api_url, LocalMediaStore(settings.media_dir), meter=meter
    )
    try:
        return await publisher.channel_info(credentials)
    except TransientPublishError as exc:
        raise PublishManagerError(
            f"could not reach YouTube at {settings.youtube_api_url} ({exc.reason or exc}); "
            "check the network and PM_YOUTUBE_API_URL, or use --no-verify"
        ) from None
    except PublishError as exc:
        raise PublishManagerError(
            f"YouTube did not accept these credentials ({exc.reason or exc}); "
            "check the client id, secret and refresh token"
        ) from None
    finally:
        await store.close()


def consent_flow(settings: Settings, client_id: str, client_secret: str, port: int = 0) -> str:
    """Run Google's installed-app flow on a loopback port and return the refresh token."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    config = {
        "installed": {
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_uri": settings.google_auth_uri,
            "token_uri": settings.google_token_uri,
            "redirect_uris": ["http://localhost"],
        }
    }
    if urllib.parse.urlparse(settings.google_token_uri).hostname in LOOPBACK_HOSTS:
        # oauthlib insists on https; a token endpoint on this machine (an emulator) is plain HTTP.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    flow = InstalledAppFlow.from_client_config(config, scopes=[YOUTUBE_SCOPE])
    try:
        credentials = flow.run_local_server(
            port=port,
            open_browser=False,
            timeout_seconds=CONSENT_TIMEOUT_S,
            access_type="offline",
            prompt="consent",
            authorization_prompt_message="Open this page, sign in with the channel's Google "
            "account and allow access:\n{url}",
        )
    except Exception as exc:  # oauthlib, requests and sockets each raise their own
        raise PublishManagerError(
            f"Google consent did not complete ({type(exc).__name__}: {exc})"
        ) from None
    token = getattr(credentials, "refresh_token", None)
    if not token:
        raise PublishManagerError("Google returned no refresh token; try again")
    return str(token)


if __name__ == "__main__":
    raise SystemExit(main())
