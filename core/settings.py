"""The one settings class: every field comes from a `PM_` environment variable or `.env`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.errors import ConfigError

IdList = Annotated[list[int], NoDecode]
FloatList = Annotated[list[float], NoDecode]

#: What a person is told each setting expects, when its value is malformed.
EXPECTED = {
    "admin_ids": "Telegram user ids like 123,456 or [123, 456]",
    "operator_ids": "Telegram user ids like 123,456 or [123, 456]",
    "alert_chat_ids": "Telegram chat ids like -1001234,-1005678 or [-1001234]",
    "timezone": "an IANA time zone such as Asia/Shanghai",
    "language": "zh or en",
    "telegram_local_mode": "true or false",
    "upload_chunk_mb": "a whole number of MiB from 1 to 1024",
    "default_privacy": "private, unlisted or public",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "database_url": "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/DB",
    "default_category_id": "a YouTube category number such as 22",
    "retry_delays_s": "seconds between retries like 60,300,900",
    "daily_report_time": "a local time like 09:00",
    "peak_hours": "local hours like 20-22 (the end may pass midnight, e.g. 22-1)",
    "peak_timezone": "an IANA time zone such as Asia/Shanghai",
    "quota_insert_cost": "units or bucket",
}


PEAK_PATTERN = r"^\s*([01]?\d|2[0-3])\s*-\s*([01]?\d|2[0-4])\s*$"


class Settings(BaseSettings):
    """Everything a deployment can configure."""

    model_config = SettingsConfigDict(
        env_prefix="PM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_local_mode: bool = False
    youtube_api_url: str = "https://youtube.googleapis.com/"
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    google_auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    # The OAuth client of /addaccount and /reauth (type "TVs and Limited Input devices").
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_device_uri: str = "https://oauth2.googleapis.com/device/code"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    admin_ids: IdList = Field(default_factory=list)
    operator_ids: IdList = Field(default_factory=list)
    alert_chat_ids: IdList = Field(default_factory=list)
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    default_privacy: Literal["private", "unlisted", "public"] = "private"
    default_category_id: str = "22"
    upload_chunk_mb: int = Field(default=8, ge=1, le=1024)
    max_parallel_uploads: int = Field(default=4, ge=1, le=256)
    sweep_interval_s: float = Field(default=30.0, gt=0)
    lease_s: float = Field(default=300.0, gt=0)
    retry_delays_s: FloatList = Field(default_factory=lambda: [60.0, 300.0, 900.0])
    max_retries: int = Field(default=3, ge=0, le=100)
    unknown_retries: int = Field(default=3, ge=0, le=100)
    retry_jitter: float = Field(default=0.1, ge=0, le=1)
    upload_limit_wait_h: float = Field(default=24.0, gt=0)
    media_retention_h: float = Field(default=72.0, ge=0)
    chunk_retries: int = Field(default=3, ge=0, le=100)
    chunk_retry_delay_s: float = Field(default=1.0, ge=0)
    log_level: str = "INFO"

    @field_validator(
        "admin_ids", "operator_ids", "alert_chat_ids", "retry_delays_s", mode="before"
    )
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator(
        "telegram_token",
        "secret_key",
        "database_url",
        "google_client_id",
        "google_client_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # .env.example ships `PM_TELEGRAM_TOKEN=`: an empty value means "not set".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("database_url")
    @classmethod
    def _check_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError("unsupported database URL")
        return value

    @field_validator("default_category_id")
    @classmethod
    def _check_category(cls, value: str) -> str:
        if not value.strip().isdigit():
            raise ValueError("not a category number")
        return value.strip()

    @field_validator("timezone", "peak_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """Return the team's default time zone."""
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'publish-manager.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        """Return the folder of received media files."""
        return self.data_dir / "media"

    @property
    def chunk_size(self) -> int:
        """Return the upload chunk in bytes, a multiple of 256 KiB as YouTube requires."""
        return self.upload_chunk_mb * 1024 * 1024

    def require(self, *names: str) -> None:
        """Raise ConfigError naming the first of `names` that is not set."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is None or value == "":
                raise ConfigError(f"PM_{name.upper()} is not set; see .env.example")

    # -- monitoring: progress, alerts, reports, metrics (issue 5) ------------------------------
    progress_interval_s: float = Field(default=5.0, gt=0)
    alert_check_interval_s: float = Field(default=60.0, gt=0)
    alert_cooldown_s: float = Field(default=3600.0, gt=0)
    alert_window_s: float = Field(default=3600.0, gt=0)
    alert_error_rate: float = Field(default=0.10, ge=0, le=1)
    alert_error_min_attempts: int = Field(default=5, ge=1)
    alert_queue_size: int = Field(default=100, ge=0)
    alert_quota_ratio: float = Field(default=0.90, gt=0, le=1)
    alert_stuck_s: float = Field(default=300.0, gt=0)
    quota_units_per_upload: int = Field(default=1600, ge=0)
    quota_daily_units: int = Field(default=10_000, ge=1)
    daily_report_time: str = Field(default="09:00", pattern=r"^([01]?\d|2[0-3]):[0-5]\d$")
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    # -- many channels: account limits, quota ledger, balancing, planning -----------------------
    #: Each account's own cap and spacing, unless `/account <name> quota|interval` set its own.
    account_uploads_per_day: int = Field(default=10, ge=1, le=1000)
    account_min_interval_h: float = Field(default=2.0, ge=0, le=168)
    #: The audiences' peak hours for "best time" (an account may set its own).
    peak_hours: str = Field(
        default="20-22", pattern=r"^\s*([01]?\d|2[0-3])\s*-\s*([01]?\d|2[0-4])\s*$"
    )
    peak_timezone: str = "Asia/Shanghai"
    #: videos.insert as `quota_units_per_upload` units, or as one call of its own daily bucket.
    quota_insert_cost: Literal["units", "bucket"] = "units"
    quota_insert_bucket_calls: int = Field(default=100, ge=1)
    quota_thumbnail_units: int = Field(default=50, ge=0)
    #: A project takes no more uploads once this share of its day is spent.
    quota_stop_ratio: float = Field(default=0.90, gt=0, le=1)
    #: More than this many failed attempts within the window put an account in error.
    health_max_errors: int = Field(default=5, ge=1)
    health_window_s: float = Field(default=3600.0, gt=0)
    #: Upload speed the lead-time guard assumes when it checks a publish instant.
    upload_rate_mbps: float = Field(default=2.0, gt=0)

    @property
    def peak(self) -> tuple[int, int]:
        """Return the default peak window's first and last hour."""
        start, end = (int(part) for part in self.peak_hours.split("-"))
        return start, end % 24


def _plain(pydantic_message: str) -> str:
    """Turn pydantic's "Input should be greater than 0" into "a value greater than 0"."""
    text = pydantic_message.removeprefix("Value error, ")
    if text.startswith("Input should be a valid integer"):
        return "a whole number"
    if text.startswith("Input should be a valid number"):
        return "a number"
    if text.startswith("Input should be a valid boolean"):
        return "true or false"
    for prefix in ("Input should be ", "Input should "):
        if text.startswith(prefix):
            return "a value " + text.removeprefix(prefix)
    return text


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning a validation failure into one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        expected = EXPECTED.get(name) or _plain(str(error["msg"]))
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        raise ConfigError(f"PM_{name.upper()}: expected {expected}{shown}") from None
    except (ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"invalid setting: {exc}") from None
