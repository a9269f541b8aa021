"""The secretariat's role commands: /grant and /revoke a representative, /trust and /untrust an organisation.

Every handler here is behind the secretariat's guard (bot/guards.py)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.guards import guard
from bot.i18n import escape
from bot.notify import send_rendered
from bot.numbers import ROW_ID, TELEGRAM_ID, NumberError, parse_int
from bot.services import events as ev
from db.models import Member, Organisation

router = guard(Router(name="roles"))


def _two_ids(command: CommandObject, locale: str) -> tuple[int, int] | None:
    """A Telegram id and an organisation id, each in its column's range; None for anything else."""
    parts = (command.args or "").split()
    if len(parts) != 2:
        return None
    telegram_id, organisation_id = parse_int(parts[0], TELEGRAM_ID, locale), parse_int(parts[1], ROW_ID, locale)
    if isinstance(telegram_id, NumberError) or isinstance(organisation_id, NumberError):
        return None
    return telegram_id, organisation_id


def granted_text(organisation: Organisation) -> str:
    return _("You now represent <b>{name}</b>. Send /submit_event to add its events, /my_events to manage them.").format(
        name=escape(organisation.name))


@router.message(Command("grant", "revoke"))
async def grant_or_revoke(message: Message, command: CommandObject, session: AsyncSession, member: Member | None,
                          bot: Bot, i18n: I18n) -> None:
    ids = _two_ids(command, i18n.current_locale)
    if ids is None:
        await message.answer(escape(_("Usage: /{command} <Telegram id> <organisation id>").format(command=command.command)))
        return
    telegram_id, organisation_id = ids
    organisation = await ev.get_organisation(session, organisation_id)
    if organisation is None:
        await message.answer(_("There is no organisation with id {id}.").format(id=organisation_id))
        return
    actor = member.id if member else None
    if command.command == "grant":
        try:
            await ev.grant_role(session, telegram_id, organisation_id, granted_by=actor)
        except LookupError:
            await message.answer(_("Nobody with Telegram id {id} is registered.").format(id=telegram_id))
            return
        await message.answer(_("{id} now represents <b>{name}</b>.").format(id=telegram_id, name=escape(organisation.name)))
        target = (await ev.members_by_telegram_ids(session, [telegram_id])).get(telegram_id)
        if target is not None:
            await send_rendered(bot, session, i18n, target, lambda locale, zone: (granted_text(organisation), None))
        return
    if await ev.revoke_role(session, telegram_id, organisation_id, revoked_by=actor):
        await message.answer(_("{id} no longer represents <b>{name}</b>.").format(id=telegram_id, name=escape(organisation.name)))
    else:
        await message.answer(_("{id} did not represent <b>{name}</b>.").format(id=telegram_id, name=escape(organisation.name)))


@router.message(Command("trust", "untrust"))
async def trust(message: Message, command: CommandObject, session: AsyncSession, member: Member | None, settings: Settings,
                i18n: I18n) -> None:
    organisation_id = parse_int(command.args, ROW_ID, i18n.current_locale)
    if isinstance(organisation_id, NumberError):
        await message.answer(escape(_("Usage: /{command} <organisation id>").format(command=command.command)))
        return
    try:
        organisation = await ev.set_trusted(session, member, organisation_id, command.command == "trust", settings.secretariat_ids)
    except LookupError:
        await message.answer(_("There is no organisation with id {id}.").format(id=organisation_id))
        return
    if organisation.trusted:
        await message.answer(_("<b>{name}</b> is trusted: its events are published without moderation.").format(name=escape(organisation.name)))
    else:
        await message.answer(_("<b>{name}</b> is no longer trusted: its events go through moderation.").format(name=escape(organisation.name)))
