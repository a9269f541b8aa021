"""Organisations' channels and groups: the bot made administrator asks, in private, the person
who did it to link the chat to their organisation; /channels lists and removes links
(representatives their own, the secretariat all); /post_here picks a forum topic.

Two routers: `router` for what anyone may meet (the bot's rights changing in a chat, declining a
link one was asked about, /post_here in a group, where the service checks the chat's
organisation), and `representatives`, behind the representatives' guard (/channels, linking and
unlinking)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import LinkCB
from bot.config import Settings
from bot.guards import guard_representatives
from bot.i18n import escape
from bot.notify import notify_representatives
from bot.org_views import chat_name, link_question, link_refused_text, linked_text, paused_text
from bot.replies import edit_text
from bot.services import org_channels as oc
from bot.services.events import represented_organisations
from bot.views.events import representative_only
from db.models import ChatLinkStatus, Member

log = logging.getLogger(__name__)
router = Router(name="org_channels")


def _channels_refusal() -> str:
    return _("Only representatives of an organisation and the secretariat can see linked chats.")


representatives = guard_representatives(Router(name="org_channels.representatives"), refusal=_channels_refusal)


async def _not_private(update: ChatMemberUpdated) -> bool:
    return update.chat.type != "private"


@router.my_chat_member(_not_private)
async def bot_rights_changed(update: ChatMemberUpdated, session: AsyncSession, member: Member | None, bot: Bot,
                             i18n: I18n, session_factory: async_sessionmaker[AsyncSession],
                             after_commit: Callable[[Callable[[], Awaitable[None]]], None]) -> None:
    new = update.new_chat_member
    able = oc.can_post(new.status, update.chat.type, getattr(new, "can_post_messages", None))
    change = await oc.bot_status_changed(
        session, chat_id=update.chat.id, chat_type=update.chat.type, title=update.chat.title,
        is_forum=bool(update.chat.is_forum), able=able, actor=member, reason=f"bot status: {new.status}")
    if change is None:
        return
    if change.paused:  # queued in a session of its own, so only once this update has committed
        link = change.link
        after_commit(lambda: notify_representatives(bot, session_factory, i18n, link, paused_text))
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


@router.callback_query(LinkCB.filter(F.a == "no"))
async def link_declined(query: CallbackQuery, callback_data: LinkCB, session: AsyncSession, member: Member | None) -> None:
    """Whoever was asked may say no, even without the role (nothing is linked)."""
    try:
        await oc.decline(session, member, callback_data.id)
    except oc.LinkRefused:
        await query.answer(representative_only(), show_alert=True)
        return
    await edit_text(query.message, _("All right: that chat is not linked."), reply_markup=None)
    await query.answer()


@representatives.callback_query(LinkCB.filter(F.a.in_({"ok", "rm"})))
async def link_button(query: CallbackQuery, callback_data: LinkCB, session: AsyncSession, member: Member | None,
                      settings: Settings) -> None:
    try:
        if callback_data.a == "ok":
            link, organisation = await oc.confirm(session, member, callback_data.id, callback_data.o)
            text = linked_text(link, organisation)
        else:
            link = await oc.unlink(session, member, callback_data.id, settings.secretariat_ids)
            text = _("Unlinked: nothing more will be posted in <b>{chat}</b>.").format(chat=chat_name(link))
    except oc.LinkRefused:
        await query.answer(representative_only(), show_alert=True)
        return
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()


@representatives.message(Command("channels"))
async def channels_command(message: Message, session: AsyncSession, member: Member | None, settings: Settings) -> None:
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
        await message.answer(representative_only())
        return
    await message.answer(_("From now on, events are posted in this topic."))
