"""Views only build what is shown: texts and keyboards from a model, a locale and a zone, with no bot
and no sending, so a handler, a job and a page render the same screen the same way."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import bot.views
from bot.views import main_menu_view, not_registered_text, profile_view
from db.models import Member
from tests.chat import I18N, tr


def test_no_view_sends_anything() -> None:
    modules = [bot.views] + [importlib.import_module(f"bot.views.{info.name}") for info in pkgutil.iter_modules(bot.views.__path__)]
    coroutines = [f"{module.__name__}.{name}" for module in modules for name, value in vars(module).items()
                  if inspect.iscoroutinefunction(value) and value.__module__ == module.__name__]
    assert coroutines == [], "a view returns what to show; its caller sends it"


def test_the_shared_screens_are_built_in_the_members_language_without_a_bot() -> None:
    member = Member(telegram_id=1, locale="kk", display_name="Айгерім <b>", languages=["kk"], interests=[],
                    notify_announcements=True, notify_events=True, digest_weekly=False, radius_km=25)
    with I18N.context(), I18N.use_locale("kk"):
        greeting, menu = main_menu_view(member)
        card, edit = profile_view(member)
        refusal = not_registered_text()
    assert greeting == tr("Welcome back, {name}! What would you like to do?", "kk").format(name="Айгерім &lt;b&gt;")
    assert menu.inline_keyboard and edit.inline_keyboard
    assert card.startswith(tr("<b>Your profile</b>", "kk")) and tr("Name: {value}", "kk").format(value="Айгерім &lt;b&gt;") in card
    assert refusal == tr("You are not registered yet. Send /start to begin.", "kk")
