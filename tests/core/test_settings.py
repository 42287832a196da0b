"""Settings: what people naturally write is accepted; a bad value names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("PM_ADMIN_IDS", "PM_OPERATOR_IDS", "PM_ALERT_CHAT_IDS", "PM_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)


def test_id_lists_accept_commas_with_spaces_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_ADMIN_IDS", "123, 456")
    monkeypatch.setenv("PM_OPERATOR_IDS", "[789]")
    monkeypatch.setenv("PM_ALERT_CHAT_IDS", "-1001234")
    settings = load_settings()
    assert settings.admin_ids == [123, 456]
    assert settings.operator_ids == [789]
    assert settings.alert_chat_ids == [-1001234]


def test_a_malformed_id_list_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_ADMIN_IDS", "alice")
    with pytest.raises(ConfigError, match=r"^PM_ADMIN_IDS: expected Telegram user ids"):
        load_settings()


def test_an_unknown_time_zone_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match=r"^PM_TIMEZONE: expected an IANA time zone"):
        load_settings()


def test_a_missing_required_setting_is_named() -> None:
    settings = load_settings()
    with pytest.raises(ConfigError, match="PM_TELEGRAM_TOKEN is not set"):
        settings.require("telegram_token")


def test_the_database_defaults_to_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    assert settings.db_url == f"sqlite+aiosqlite:///{(tmp_path / 'd' / 'publish-manager.db')}"
    assert settings.chunk_size % (256 * 1024) == 0


def test_every_setting_is_documented_in_the_example_and_the_readme() -> None:
    from core.settings import Settings

    root = Path(__file__).parents[2]
    example = (root / ".env.example").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"PM_{name.upper()}=" in example, name
        assert f"`PM_{name.upper()}`" in readme, name
