"""Telegram tells us when a member blocks or unblocks the bot (my_chat_member)."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatMemberStatus
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.members import reactivate
from bot.services.registration import mark_blocked
from db.models import Member

router = Router(name="membership")


@router.my_chat_member()
async def membership_changed(update: ChatMemberUpdated, session: AsyncSession, member: Member | None) -> None:
    if update.chat.type != "private":
        return
    if update.new_chat_member.status == ChatMemberStatus.KICKED:
        await mark_blocked(session, update.from_user.id)
    elif member is not None:
        await reactivate(session, member)
