"""Settings from the environment: an invalid value is one line naming the variable and the value,
and fails only the commands that use it."""

from __future__ import annotations

import pytest

from r71_tracker import cli, config
from r71_tracker.config import ConfigError, settings
from r71_tracker.feeds import loader


def test_defaults_when_unset_or_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "TRACKER_MAX_FEED_BYTES",
        "TRACKER_FRESHNESS_MAX_AGE_DAYS",
        "TRACKER_SET_BASED_MIN_BYTES",
        "TRACKER_LARGE_CSV_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKER_ALERT_SMTP_PORT", " ")
    assert settings().max_feed_bytes == 200 * 1024 * 1024
    assert settings().freshness_max_age_days == 14
    assert loader.set_based_min_bytes() == loader.DEFAULT_SET_BASED_MIN_BYTES
    assert loader.large_csv_path() == "arrow"
    assert config.alert_smtp_port() == 25


def test_valid_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_MAX_FEED_BYTES", "1024")
    monkeypatch.setenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", " 30 ")
    monkeypatch.setenv("TRACKER_SET_BASED_MIN_BYTES", "0")  # 0 = every CSV is "large"
    monkeypatch.setenv("TRACKER_LARGE_CSV_PATH", "SQL")
    monkeypatch.setenv("TRACKER_ALERT_SMTP_PORT", "587")
    assert (settings().max_feed_bytes, settings().freshness_max_age_days) == (1024, 30)
    assert (loader.set_based_min_bytes(), loader.large_csv_path()) == (0, "sql")
    assert config.alert_smtp_port() == 587


@pytest.mark.parametrize(
    ("name", "value", "read", "message"),
    [
        (
            "TRACKER_FRESHNESS_MAX_AGE_DAYS",
            "abc",
            lambda: settings().freshness_max_age_days,
            "TRACKER_FRESHNESS_MAX_AGE_DAYS must be a whole number of days ≥ 1, got 'abc'",
        ),
        (
            "TRACKER_FRESHNESS_MAX_AGE_DAYS",
            "0",
            lambda: settings().freshness_max_age_days,
            "TRACKER_FRESHNESS_MAX_AGE_DAYS must be a whole number of days ≥ 1, got '0'",
        ),
        (
            "TRACKER_MAX_FEED_BYTES",
            "200MB",
            lambda: settings().max_feed_bytes,
            "TRACKER_MAX_FEED_BYTES must be a whole number of bytes ≥ 1, got '200MB'",
        ),
        (
            "TRACKER_MAX_FEED_BYTES",
            "-5",
            lambda: settings().max_feed_bytes,
            "TRACKER_MAX_FEED_BYTES must be a whole number of bytes ≥ 1, got '-5'",
        ),
        (
            "TRACKER_SET_BASED_MIN_BYTES",
            "1.5",
            loader.set_based_min_bytes,
            "TRACKER_SET_BASED_MIN_BYTES must be a whole number of bytes ≥ 0, got '1.5'",
        ),
        (
            "TRACKER_LARGE_CSV_PATH",
            "pandas",
            loader.large_csv_path,
            "TRACKER_LARGE_CSV_PATH must be one of arrow, sql, got 'pandas'",
        ),
        (
            "TRACKER_ALERT_SMTP_PORT",
            "70000",
            config.alert_smtp_port,
            "TRACKER_ALERT_SMTP_PORT must be a whole number from 1 to 65535, got '70000'",
        ),
        (
            "TRACKER_ALERT_SMTP_PORT",
            "smtp",
            config.alert_smtp_port,
            "TRACKER_ALERT_SMTP_PORT must be a whole number from 1 to 65535, got 'smtp'",
        ),
    ],
)
def test_an_invalid_value_is_one_error_naming_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, read, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        read()
    assert str(raised.value) == message


def test_an_invalid_limit_fails_only_what_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_FRESHNESS_MAX_AGE_DAYS", "abc")
    monkeypatch.setenv("TRACKER_MAX_FEED_BYTES", "abc")
    config_now = settings()  # every command reads the settings: this must not fail
    assert config_now.landing_dir and config_now.local_dir
    with pytest.raises(ConfigError):
        assert config_now.freshness_max_age_days


def test_the_cli_prints_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The ingest reads its limits before it connects: no database is needed to see the error.
    monkeypatch.setenv("TRACKER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("TRACKER_MAX_FEED_BYTES", "abc")
    monkeypatch.delenv("TRACKER_DEBUG", raising=False)
    assert cli.main(["ingest", str(tmp_path / "moj.csv")]) == 2
    assert capsys.readouterr().err == (
        "tracker ingest: TRACKER_MAX_FEED_BYTES must be a whole number of bytes ≥ 1, got 'abc'\n"
    )
