"""The portal's own settings (environment / `.env`), kept apart from the bot's."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    """PORTAL_URL, BOT_USERNAME, WEBAPP_AUTH_MAX_AGE, PORTAL_CACHE_SECONDS."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # Public https address of the portal; when set the bot's menu button opens the Mini App there.
    portal_url: str | None = None
    # The bot's @username for t.me deep links; asked from getMe (once) when not set.
    bot_username: str | None = None
    # Mini App initData older than this is refused (seconds).
    webapp_auth_max_age: int = Field(default=3600, ge=30, le=7 * 86400)
    # How long the directory's folded search index is reused before it is rebuilt (seconds).
    portal_cache_seconds: float = Field(default=30.0, ge=0, le=3600)

    @field_validator("portal_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("bot_username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return value.lstrip("@") if value else value
