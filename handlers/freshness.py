"""Representatives answer "is your organisation's entry still correct?" (asked by jobs/freshness.py,
with the texts of bot/views/notices.py)."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import ConfirmOrgCB
from bot.i18n import escape
from bot.replies import edit_text
from bot.services.freshness import confirm
from bot.services.roles import represents
from db.models import Member, Organisation
from bot.views.notices import ask_text, confirmation_keyboard, hidden_notice  # noqa: F401  (old home)
from db.types import utcnow

router = Router(name="freshness")


@router.callback_query(ConfirmOrgCB.filter())
async def answer_request(
    query: CallbackQuery, callback_data: ConfirmOrgCB, session: AsyncSession, member: Member | None
) -> None:
    # The button proves only that the request reached this chat once: roles may have changed since.
    if member is None or not await represents(session, member, callback_data.org_id):
        await query.answer(_("Only a representative of this organisation can answer this."), show_alert=True)
        return
    org = await session.get(Organisation, callback_data.org_id)
    if org is None or not org.is_active:
        await query.answer(_("This organisation is no longer listed in the directory. Please contact the secretariat."), show_alert=True)
        return
    if callback_data.still_ok:
        await confirm(session, org, member, utcnow())
        await edit_text(
            query.message,
            _("Thank you! The entry for <b>{name}</b> is confirmed for another three months.").format(name=escape(org.name)),
            reply_markup=None,
        )
        await query.answer()
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _(
                "Thank you for telling us. Please write to the secretariat what needs to change in the entry for "
                "<b>{name}</b>. Once it is up to date, press “Still correct” above."
            ).format(name=escape(org.name))
        )

