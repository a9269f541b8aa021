"""/verify and /unverify ORGANISATION_ID: the secretariat confirms an organisation, and every
card of it (directory, events, channels, inline) shows the verified mark."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import escape
from bot.services.numbers import ROW_ID, NumberError, parse_int
from bot.services.roles import is_secretariat
from db.models import Member, Organisation
from db.repositories import Repo

router = Router(name="verification")


@router.message(Command("verify", "unverify"))
async def verify_command(message: Message, command: CommandObject, session: AsyncSession, member: Member | None,
                         settings: Settings) -> None:
    if not await is_secretariat(session, member, settings.secretariat_ids):
        await message.answer(_("Only the secretariat can do this."))
        return
    organisation_id = parse_int((command.args or "").strip(), ROW_ID)
    organisation = None if isinstance(organisation_id, NumberError) else await session.get(Organisation, organisation_id)
    if organisation is None:
        await message.answer(_("Send /{command} and the organisation's number, for example /{command} 12.").format(command=command.command))
        return
    organisation.verified = command.command == "verify"
    await Repo(session).audit.record("organisation.verified" if organisation.verified else "organisation.unverified",
                                     actor_id=member.id if member else None, organisation_id=organisation.id)
    if organisation.verified:
        await message.answer(_("✔️ <b>{name}</b> is verified: its cards show the mark.").format(name=escape(organisation.name)))
    else:
        await message.answer(_("<b>{name}</b> is no longer marked as verified.").format(name=escape(organisation.name)))
