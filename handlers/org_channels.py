"""Organisations' channels and groups: the bot made administrator asks, in private, the person
who did it to link the chat to their organisation; /channels lists and removes links
(representatives their own, the secretariat all); /post_here picks a forum topic."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.i18n import escape
from bot.org_views import chat_name, link_question, link_refused_text, linked_text, paused_text
from bot.replies import edit_text
from bot.services import org_channels as oc
from bot.services.events import represented_organisations
from bot.services.roles import is_secretariat
from bot.notify import notify_representatives
from db.models import ChatLinkStatus, Member

log = logging.getLogger(__name__)
router = Router(name="org_channels")


class LinkCB(CallbackData, prefix="chl"):
    """ok (link to organisation o), no (decline), rm (unlink)."""

    a: str
    id: int
    o: int = 0


async def _not_private(update: ChatMemberUpdated) -> bool:
    return update.chat.type != "private"


@router.my_chat_member(_not_private)
async def bot_rights_changed(update: ChatMemberUpdated, session: AsyncSession, member: Member | None, bot: Bot,
                             i18n: I18n, session_factory: async_sessionmaker[AsyncSession]) -> None:
    new = update.new_chat_member
    able = oc.can_post(new.status, update.chat.type, getattr(new, "can_post_messages", None))
    change = await oc.bot_status_changed(
        session, chat_id=update.chat.id, chat_type=update.chat.type, title=update.chat.title,
        is_forum=bool(update.chat.is_forum), able=able, actor=member, reason=f"bot status: {new.status}")
    if change is None:
        return
    await session.commit()  # no transaction stays open across the Bot API calls below
    if change.paused:
        await notify_representatives(bot, session_factory, i18n, change.link, paused_text)
        return
    if not change.ask:
        return
    organisations = await represented_organisations(session, member)
    if not organisations:
        await _say(bot, update.from_user.id, link_refused_text(change.link))
        return
    builder = InlineKeyboardBuilder()
    for organisation in organisations:
        builder.button(text=("🔗 " + organisation.name)[:64], callback_data=LinkCB(a="ok", id=change.link.id, o=organisation.id))
    builder.button(text=_("Do not link"), callback_data=LinkCB(a="no", id=change.link.id))
    builder.adjust(1)
    await _say(bot, update.from_user.id, link_question(change.link, organisations), builder.as_markup())


async def _say(bot: Bot, chat_id: int, text: str, markup: object = None) -> None:
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)  # type: ignore[arg-type]
    except TelegramAPIError as error:  # they never started the bot: nobody to ask
        log.info("could not write to %s about a chat link: %s", chat_id, error)


@router.callback_query(LinkCB.filter())
async def link_button(query: CallbackQuery, callback_data: LinkCB, session: AsyncSession, member: Member | None,
                      settings: Settings) -> None:
    try:
        if callback_data.a == "ok":
            link, organisation = await oc.confirm(session, member, callback_data.id, callback_data.o)
            text = linked_text(link, organisation)
        elif callback_data.a == "no":
            await oc.decline(session, member, callback_data.id)
            text = _("All right: that chat is not linked.")
        elif callback_data.a == "rm":
            link = await oc.unlink(session, member, callback_data.id, settings.secretariat_ids)
            text = _("Unlinked: nothing more will be posted in <b>{chat}</b>.").format(chat=chat_name(link))
        else:
            raise oc.LinkRefused()
    except oc.LinkRefused:
        await query.answer(_("Only a representative of this organisation can do this."), show_alert=True)
        return
    await session.commit()
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()


@router.message(Command("channels"))
async def channels_command(message: Message, session: AsyncSession, member: Member | None, settings: Settings) -> None:
    secretariat = await is_secretariat(session, member, settings.secretariat_ids)
    if not secretariat and not await represented_organisations(session, member):
        await message.answer(_("Only representatives of an organisation and the secretariat can see linked chats."))
        return
    rows = await oc.visible_links(session, member, settings.secretariat_ids)
    if not rows:
        await message.answer(_("No channel or group is linked yet. Add me as an administrator of your channel or group, "
                               "then confirm the link here."))
        return
    lines = [_("<b>Linked channels and groups</b>")]
    builder = InlineKeyboardBuilder()
    for number, row in enumerate(rows, start=1):
        state = _("active") if row.link.status == ChatLinkStatus.ACTIVE.value else _("paused")
        lines.append(f"{number}. {chat_name(row.link)} → {escape(row.organisation.name if row.organisation else '—')} ({state})")
        builder.button(text=_("Unlink {number}").format(number=number), callback_data=LinkCB(a="rm", id=row.link.id))
    builder.adjust(3)
    await message.answer("\n".join(lines), reply_markup=builder.as_markup())


@router.message(Command("post_here"))
async def post_here(message: Message, session: AsyncSession, member: Member | None) -> None:
    if message.chat.type == "private" or not message.chat.is_forum:
        await message.answer(_("Send /post_here in a topic of your linked group with topics."))
        return
    thread = message.message_thread_id if message.is_topic_message else None
    try:
        await oc.set_topic(session, member, message.chat.id, thread)
    except oc.LinkRefused:
        await message.answer(_("Only a representative of this organisation can do this."))
        return
    await message.answer(_("From now on, events are posted in this topic."))
