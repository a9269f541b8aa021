"""Representatives answer "is your organisation's entry still correct?" (asked by jobs/freshness.py).

The texts and the keyboard are built here with `_()`; the job renders them inside
`i18n.use_locale(...)`, so one module holds every string of the feature.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import escape
from bot.replies import edit_text
from bot.services.freshness import confirm
from bot.services.roles import represents
from db.models import Member, Organisation
from db.types import utcnow

router = Router(name="freshness")


class ConfirmOrgCB(CallbackData, prefix="fresh"):
    org_id: int
    still_ok: bool


def ask_text(org: Organisation) -> str:
    """The request a representative receives."""
    return _(
        "Every three months we ask representatives to check their organisation's entry in the directory.\n\n"
        "Is the entry for <b>{name}</b> still correct?\n\n"
        "If nobody answers three requests, the entry is hidden from the directory."
    ).format(name=escape(org.name))


def confirmation_keyboard(org_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Still correct"), callback_data=ConfirmOrgCB(org_id=org_id, still_ok=True))
    builder.button(text=_("✏️ Needs changes"), callback_data=ConfirmOrgCB(org_id=org_id, still_ok=False))
    builder.adjust(1)
    return builder.as_markup()


def hidden_notice(org: Organisation, had_representatives: bool) -> str:
    """What the secretariat is told when an organisation is hidden."""
    if had_representatives:
        text = _("<b>{name}</b> was hidden from the directory: its representatives did not answer three requests to confirm the entry.")
    else:
        text = _("<b>{name}</b> was hidden from the directory after three requests to confirm the entry: it has no representative who could answer.")
    return text.format(name=escape(org.name))


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

