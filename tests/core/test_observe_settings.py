"""Monitoring settings: defaults, validation, and their documentation."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings

ROOT = Path(__file__).parents[2]
MONITORING = [
    name
    for name in Settings.model_fields
    if name.startswith(("progress_", "alert_", "quota_", "metrics_", "daily_report"))
    and name != "alert_chat_ids"
]


def test_monitoring_defaults_follow_the_issue() -> None:
    s = load_settings(_env_file=None)
    assert (s.alert_error_rate, s.alert_queue_size, s.alert_quota_ratio) == (0.10, 100, 0.90)
    assert (s.progress_interval_s, s.daily_report_time, s.metrics_port) == (5.0, "09:00", 0)
    assert (s.quota_units_per_upload, s.quota_daily_units) == (1600, 10_000)


@pytest.mark.parametrize("value", ["25:00", "9h", "09:60"])
def test_a_bad_report_time_stops_the_start_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match="PM_DAILY_REPORT_TIME"):
        load_settings(_env_file=None, daily_report_time=value)


def test_every_monitoring_setting_is_documented() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(MONITORING) == 18
    for name in MONITORING:
        assert f"PM_{name.upper()}=" in example, name
        assert f"`PM_{name.upper()}`" in readme, name
