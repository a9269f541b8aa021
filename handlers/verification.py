"""/verify and /unverify ORGANISATION_ID: the secretariat confirms an organisation, and every
card of it (directory, events, channels, inline) shows the verified mark. Behind the secretariat's guard."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.guards import guard
from bot.i18n import escape
from bot.numbers import ROW_ID, NumberError, parse_int
from db.models import ChatLink, ChatLinkStatus, Member, Organisation
from db.repositories import Repo

router = guard(Router(name="verification"))
log = logging.getLogger(__name__)


async def _telegram_verification(bot: Bot, session: AsyncSession, organisation_id: int, verified: bool) -> None:
    """Where the Bot API allows it (a bot Telegram approved as a verifier): verifyChat on the linked chats."""
    chats = await session.scalars(select(ChatLink.chat_id).where(
        ChatLink.organisation_id == organisation_id, ChatLink.status == ChatLinkStatus.ACTIVE.value))
    for chat_id in list(chats):
        try:
            if verified:
                await bot.verify_chat(chat_id=chat_id)
            else:
                await bot.remove_chat_verification(chat_id=chat_id)
        except TelegramAPIError as error:
            log.warning("Telegram verification of chat %s failed: %s", chat_id, error)


@router.message(Command("verify", "unverify"))
async def verify_command(message: Message, command: CommandObject, session: AsyncSession, member: Member | None,
                         settings: Settings) -> None:
    organisation_id = parse_int((command.args or "").strip(), ROW_ID)
    organisation = None if isinstance(organisation_id, NumberError) else await session.get(Organisation, organisation_id)
    if organisation is None:
        await message.answer(_("Send /{command} and the organisation's number, for example /{command} 12.").format(command=command.command))
        return
    organisation.verified = command.command == "verify"
    await Repo(session).audit.record("organisation.verified" if organisation.verified else "organisation.unverified",
                                     actor_id=member.id if member else None, organisation_id=organisation.id)
    if settings.telegram_verifier:
        await _telegram_verification(message.bot, session, organisation.id, organisation.verified)  # type: ignore[arg-type]
    if organisation.verified:
        await message.answer(_("✔️ <b>{name}</b> is verified: its cards show the mark.").format(name=escape(organisation.name)))
    else:
        await message.answer(_("<b>{name}</b> is no longer marked as verified.").format(name=escape(organisation.name)))
