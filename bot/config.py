"""Settings read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import re

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

LOCALES: tuple[str, ...] = ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en")
TELEGRAM_API_DEFAULT = "https://api.telegram.org"
ROOT = Path(__file__).resolve().parent.parent


def default_database_url() -> str:
    """An SQLite file under ./data/ of the current directory."""
    return f"sqlite+aiosqlite:///{Path('data').resolve() / 'kardes.sqlite3'}"


class Settings(BaseSettings):
    """Everything configurable; secrets stay `SecretStr` so they never end up in logs."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    bot_token: SecretStr | None = None
    database_url: str = Field(default_factory=default_database_url)
    redis_url: str | None = None
    telegram_api_base: str = TELEGRAM_API_DEFAULT
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    # Polling deployments: serve /atlas.json, calendar feeds and /healthz on this port too.
    http_port: int | None = Field(default=None, ge=1, le=65535)
    # Public address of the web process, for links such as calendar feeds (default: WEBHOOK_URL's origin).
    public_url: str | None = None
    secretariat_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_locale: str = "en"
    broadcast_rate: float = Field(default=25.0, gt=0, le=1000)
    broadcast_paid: bool = False  # allow_paid_broadcast: Telegram Stars buy up to 1000 messages/s
    throttle_rate: float = Field(default=3.0, gt=0, description="updates per second one user may send")
    throttle_burst: int = Field(default=10, ge=1, description="updates one user may send at once")
    log_level: str = "INFO"
    # Backpressure: updates fetched but not yet handled, at most (the connection pool is sized to it).
    max_updates_in_flight: int = Field(default=64, ge=1, le=99)
    # On SIGTERM: stop fetching, finish what is in flight within this many seconds, confirm it.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)
    # SQLite: how long a writer waits for the write lock before "database is locked".
    sqlite_busy_timeout: float = Field(default=30.0, gt=0, le=600)
    atlas_min_cell: int = Field(default=5, ge=2, le=100, description="Atlas counts below this read 'fewer than N'")
    # Differential privacy of the Atlas: the privacy loss of one release (split across its tables),
    # the most all releases together may ever spend, and when the worker makes a release (cron, UTC).
    atlas_epsilon: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    atlas_lifetime_epsilon: float = Field(default=12.0, gt=0, allow_inf_nan=False)
    atlas_schedule: str = "0 6 1 * *"
    # Messages a representative may send to one event's attendees in any 24 hours.
    attendee_messages_per_day: int = Field(default=2, ge=0, le=20)
    # The bot is one of Telegram's approved third-party verifiers: /verify also marks the linked chats.
    telegram_verifier: bool = False

    @field_validator("secretariat_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        # Accept "1, 2 3" from the environment as well as a real list.
        if isinstance(value, str):
            from bot.numbers import TELEGRAM_ID, NumberError, parse_int

            parts = value.replace(",", " ").split()
            ids = [parse_int(part, TELEGRAM_ID) for part in parts]
            bad = [part for part, parsed in zip(parts, ids) if isinstance(parsed, NumberError)]
            if bad:
                raise ValueError(f"not Telegram user ids: {', '.join(bad)}")
            return frozenset(ids)
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("atlas_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"must be a crontab line such as '0 6 1 * *' ({error})") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # People paste the URL their host gives them; pick the async driver for them.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://"):]
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value[len("postgresql://"):]
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value[len("sqlite:///"):]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be an sqlite:/// or postgresql:// URL")
        return value

    @field_validator("telegram_api_base", "webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> "Settings":
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("WEBHOOK_SECRET must be set when WEBHOOK_URL is set")
        if self.webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", self.webhook_secret.get_secret_value()):
            raise ValueError("WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -, up to 256 characters")
        return self

    def public_base(self) -> str | None:
        """Where members can reach the web process, if anywhere."""
        if self.public_url:
            return self.public_url
        if self.webhook_url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.webhook_url)
            return f"{parts.scheme}://{parts.netloc}"
        return None

    def token(self) -> str:
        """The bot token; refuses to go on without one."""
        if self.bot_token is None or not self.bot_token.get_secret_value().strip():
            raise ConfigError("BOT_TOKEN is not set: get one from @BotFather, or run `make demo` for the sandbox")
        return self.bot_token.get_secret_value().strip()


class ConfigError(Exception):
    """A configuration problem, told to the operator in one line."""


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    if not first["loc"]:  # a check across several variables names them in its message
        return f"Configuration is invalid: {first['msg'].removeprefix('Value error, ')}"
    return f"{str(first['loc'][0]).upper()} is invalid: {first['msg'].removeprefix('Value error, ')}"


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation error into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return load_settings()
