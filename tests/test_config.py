"""Configuration: defaults, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import ConfigError, load_settings
from tests.conftest import ROOT


def test_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BROADCAST_RATE", raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/kardes.sqlite3")
    assert settings.broadcast_rate == 25
    assert settings.telegram_api_base == "https://api.telegram.org"


def test_secretariat_ids_are_read_from_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETARIAT_IDS", "111, 222 333")
    assert load_settings().secretariat_ids == {111, 222, 333}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BROADCAST_RATE", "fast"),
        ("BROADCAST_RATE", "-1"),
        ("DEFAULT_LOCALE", "de"),
        ("SECRETARIAT_IDS", "12,abc"),
        ("SECRETARIAT_IDS", "12 ²"),
        ("SECRETARIAT_IDS", "１２"),
        ("SECRETARIAT_IDS", "9223372036854775808"),
        ("DATABASE_URL", "mysql://x"),
        ("WEBHOOK_PORT", "99999"),
        ("TELEGRAM_API_BASE", "ftp://example.org"),
    ],
)
def test_a_malformed_value_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(variable)
    assert "\n" not in str(error.value)


def test_webhook_without_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/webhook")
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        load_settings()


def test_postgres_url_gets_the_async_driver() -> None:
    assert load_settings(database_url="postgres://u@h/db").database_url == "postgresql+asyncpg://u@h/db"


def test_run_without_token_prints_one_line_and_no_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env | {"PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["kardes: BOT_TOKEN is not set: get one from @BotFather, or run `make demo` for the sandbox"]
    assert "Traceback" not in result.stderr
