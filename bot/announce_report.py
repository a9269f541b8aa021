"""The secretariat's view of a broadcast: a progress bar, then the final report."""

from __future__ import annotations

from typing import Any

from bot.i18n import create_i18n, format_number

_fallback = None


def _i18n(i18n: Any) -> Any:
    global _fallback
    if i18n is not None:
        return i18n
    if _fallback is None:
        _fallback = create_i18n()
    return _fallback


def bar(done: int, total: int, width: int = 12) -> str:
    """A text progress bar: ▓▓▓▓░░░░ 50 %."""
    share = done / total if total else 1.0
    filled = round(share * width)
    return "▓" * filled + "░" * (width - filled)


def progress_text(figures: Any, locale: str, i18n: Any = None) -> str:
    """Progress while sending."""
    gettext = _i18n(i18n).gettext
    done = figures.sent + figures.blocked + figures.failed
    percent = round(100 * done / figures.total) if figures.total else 100
    return gettext("Sending… {bar} {percent}%\n{done} of {total}", locale=locale).format(
        bar=bar(done, figures.total), percent=percent, done=format_number(done, locale), total=format_number(figures.total, locale)
    )


def report_text(figures: Any, seconds: float, locale: str, i18n: Any = None) -> str:
    """The report at the end of a run."""
    gettext = _i18n(i18n).gettext
    done = figures.sent + figures.blocked + figures.failed
    rate = done / seconds if seconds > 0 else 0.0
    return gettext(
        "<b>Announcement report</b>\nSent: {sent}\nBlocked the bot: {blocked}\nFailed: {failed}\n"
        "Waiting for quiet hours to end: {deferred}\nDuration: {seconds} s, {rate} messages/s",
        locale=locale,
    ).format(
        sent=format_number(figures.sent, locale), blocked=format_number(figures.blocked, locale),
        failed=format_number(figures.failed, locale), deferred=format_number(figures.deferred, locale),
        seconds=format_number(round(seconds, 1), locale), rate=format_number(round(rate, 1), locale),
    )
