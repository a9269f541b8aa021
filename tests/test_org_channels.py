"""Organisations' channels and groups through the sandbox: link and unlink, a stranger cannot link,
an approved event posted once and updated on edit or cancellation, lost rights pause the link and
tell the representative, a lost role drops it, forum topics, and Telegram's 20-a-minute group limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sandbox.client import SandboxChat, SandboxUser
from bot.services import events as ev
from bot.services import org_channels as oc
from db.models import ChatLink, ChatLinkStatus, Event, EventStatus
from db.types import utcnow
from jobs.context import JobContext
from jobs.org_channels import ChatMinuteGate, tick
from tests.chat import alerts
from tests.test_events_e2e import add_member, add_org, appoint, approved_event, messages, tr

CHANNEL = SandboxChat(-1002000000001, "channel", "Ala-Too news")
GROUP = SandboxChat(-1002000000002, "supergroup", "Ala-Too community")


def context(running_bot, session_factory) -> JobContext:  # type: ignore[no-untyped-def]
    return JobContext(running_bot.settings, session_factory, running_bot.bot, running_bot.app.i18n)


async def link_chat(client, session, rep: SandboxUser, org, chat: SandboxChat = CHANNEL, locale: str = "en") -> None:  # type: ignore[no-untyped-def]
    """The representative makes the bot an administrator and confirms the link in private."""
    await client.create_chat(chat, creator=rep)
    await client.add_bot(chat, by=rep, admin=True)
    question = await client.wait_for(rep.id, lambda entries: any("🔗 " in str(e.get("reply_markup")) for e in entries))
    assert question
    reply = await client.press(rep, ("🔗 " + org.name)[:64])
    assert tr("✅ Linked: approved events of <b>{organisation}</b> will be posted in <b>{chat}</b>.", locale).format(
        organisation=org.name, chat=chat.title).replace("<b>", "").replace("</b>", "") in messages(reply)[-1]["plain"]


async def setup_rep(session, user: SandboxUser, client, locale: str = "en"):  # type: ignore[no-untyped-def]
    await client.register(user)
    org = await add_org(session, name="Ala-Too")
    rep = await add_member(session, user, locale)
    await appoint(session, rep, org)
    await session.commit()
    return org, rep


async def test_a_linked_channel_gets_each_approved_event_once_and_the_post_follows_edits_and_cancellation(
        running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep_user = SandboxUser(7001, "Aigerim")
    org, _rep = await setup_rep(session, rep_user, client)
    await link_chat(client, session, rep_user, org)
    event = await approved_event(session, org)
    pending = Event(organisation_id=org.id, title="Not yet", description="x", starts_at=utcnow() + timedelta(days=3),
                    timezone="Asia/Bishkek", category="culture", status=EventStatus.PENDING.value)
    session.add(pending)
    await session.commit()

    assert await tick(context(running_bot, session_factory)) == 1
    assert await tick(context(running_bot, session_factory)) == 0  # posted once
    posts = messages(await client.transcript(CHANNEL.id))
    assert len(posts) == 1
    assert "Toi <i>&</i>" in posts[0]["plain"] and "Not yet" not in posts[0]["plain"]
    # The venue's zone (Berlin), and the RSVP deep link into the private chat.
    from bot.i18n import format_when

    assert format_when(event.starts_at, "en", "Europe/Berlin", "full") in posts[0]["plain"]
    button = posts[0]["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == tr("✅ RSVP in the bot")
    assert button["url"] == f"https://t.me/{(await running_bot.bot.me()).username}?start=e_{event.id}"

    event.title = "Toi, new time"
    await session.commit()
    assert await tick(context(running_bot, session_factory)) == 1
    posts = messages(await client.transcript(CHANNEL.id))
    assert len(posts) == 1 and posts[0]["edited"] and "Toi, new time" in posts[0]["plain"]

    event.status = EventStatus.CANCELLED.value
    await session.commit()
    await tick(context(running_bot, session_factory))
    posts = messages(await client.transcript(CHANNEL.id))
    assert len(posts) == 1 and "Cancelled" in posts[0]["plain"] and not posts[0]["reply_markup"]


async def test_a_stranger_cannot_link_a_chat_to_someone_elses_organisation(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep_user, stranger = SandboxUser(7011, "Rep"), SandboxUser(7012, "Stranger", language_code="ru")
    org, _rep = await setup_rep(session, rep_user, client)
    await client.register(stranger)
    await add_member(session, stranger, "ru")
    await session.commit()
    group = SandboxChat(-1002000000011, "supergroup", "Somebody's group")
    await client.create_chat(group, creator=stranger)
    await client.add_bot(group, by=stranger, admin=True)
    refused = await client.wait_for(stranger.id, lambda entries: bool(messages(entries)))
    assert messages(refused)[-1]["plain"] == tr(
        "You made me an administrator of <b>{chat}</b>, but only a representative of an organisation can link a chat "
        "to it. If you represent one, ask the secretariat to grant you the role, then add me again.", "ru").format(
        chat=group.title).replace("<b>", "").replace("</b>", "")  # in the stranger's language
    link = await session.scalar(select(ChatLink).where(ChatLink.chat_id == group.id))
    assert link is not None and link.status == ChatLinkStatus.PENDING.value
    # A forged confirmation for the other organisation is refused before any handler (the message has no such button).
    last = messages(await client.transcript(stranger.id))[-1]
    answer = await client.forge_callback(stranger, last["message_id"], f"chl:ok:{link.id}:{org.id}")
    assert alerts(answer) == [tr("This menu has expired. Please start again.", "ru")]
    # Even its representative cannot confirm a link that someone else's rights created.
    with pytest.raises(oc.LinkRefused):
        await oc.confirm(session, _rep, link.id, org.id)
    async with session_factory() as fresh:
        link = await fresh.scalar(select(ChatLink).where(ChatLink.chat_id == group.id))
        assert link.status == ChatLinkStatus.PENDING.value and link.organisation_id is None
    await approved_event(session, org)
    await session.commit()
    assert await tick(context(running_bot, session_factory)) == 0
    assert not messages(await client.transcript(group.id))


async def test_losing_admin_rights_pauses_the_link_and_tells_the_representative(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep_user = SandboxUser(7021, "Nurlan", language_code="kk")
    org, _rep = await setup_rep(session, rep_user, client, "kk")
    await link_chat(client, session, rep_user, org, GROUP, "kk")
    before = len(messages(await client.transcript(rep_user.id)))
    await client.set_bot_status(GROUP, "member", by=rep_user)
    told = await client.wait_for(rep_user.id, lambda entries: len(messages(entries)) > before)
    assert tr("⏸ I can no longer post in <b>{chat}</b> (I am not an administrator there any more), so its link is paused. "
              "Make me an administrator again to resume it.", "kk").format(chat=GROUP.title).replace("<b>", "").replace("</b>", "") \
        == messages(told)[-1]["plain"]
    async with session_factory() as fresh:
        assert (await fresh.scalar(select(ChatLink.status).where(ChatLink.chat_id == GROUP.id))) == ChatLinkStatus.PAUSED.value
    await approved_event(session, org)
    await session.commit()
    assert await tick(context(running_bot, session_factory)) == 0

    # Promoted again: confirmed again, then a 403 (the bot was removed meanwhile) pauses it as well.
    await client.set_bot_status(GROUP, "administrator", by=rep_user)
    await client.wait_for(rep_user.id, lambda entries: "🔗 " in str(messages(entries)[-1].get("reply_markup")))
    await client.press(rep_user, "🔗 Ala-Too")
    await client.set_failure(GROUP.id, "blocked")
    before = len(messages(await client.transcript(rep_user.id)))
    assert await tick(context(running_bot, session_factory)) == 0
    assert len(messages(await client.transcript(rep_user.id))) == before + 1
    async with session_factory() as fresh:
        assert (await fresh.scalar(select(ChatLink.status).where(ChatLink.chat_id == GROUP.id))) == ChatLinkStatus.PAUSED.value


async def test_the_secretariat_lists_and_removes_links_and_a_lost_role_drops_the_link(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep_user, secretary = SandboxUser(7031, "Rep"), SandboxUser(900, "Secretariat")
    org, _rep = await setup_rep(session, rep_user, client)
    await client.register(secretary)
    await add_member(session, secretary)
    await session.commit()
    await link_chat(client, session, rep_user, org)
    listing = messages(await client.send(secretary, "/channels"))[-1]
    assert "Ala-Too news → Ala-Too" in listing["plain"]
    reply = await client.press(secretary, tr("Unlink {number}").format(number=1))
    assert "Unlinked" in messages(reply)[-1]["plain"]
    async with session_factory() as fresh:
        assert (await fresh.scalar(select(ChatLink.status).where(ChatLink.chat_id == CHANNEL.id))) == ChatLinkStatus.REMOVED.value

    # Linked again, then the representative loses the role: the link goes with it.
    await client.set_bot_status(CHANNEL, "left", by=rep_user)
    await client.set_bot_status(CHANNEL, "administrator", by=rep_user)
    await client.wait_for(rep_user.id, lambda entries: "🔗 " in str(messages(entries)[-1].get("reply_markup")))
    await client.press(rep_user, "🔗 Ala-Too")
    await ev.revoke_role(session, rep_user.id, org.id)
    await approved_event(session, org)
    await session.commit()
    assert await tick(context(running_bot, session_factory)) == 0
    async with session_factory() as fresh:
        assert (await fresh.scalar(select(ChatLink.status).where(ChatLink.chat_id == CHANNEL.id))) == ChatLinkStatus.REMOVED.value
    assert not [p for p in messages(await client.transcript(CHANNEL.id))]


async def test_a_forum_topic_chosen_by_the_representative_receives_the_cards(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep_user = SandboxUser(7041, "Aibek")
    org, _rep = await setup_rep(session, rep_user, client)
    forum = SandboxChat(-1002000000041, "supergroup", "Ala-Too forum", is_forum=True)
    await link_chat(client, session, rep_user, org, forum)
    topic = await client.create_topic(forum, "Events", by=rep_user)
    reply = await client.send(rep_user, "/post_here", chat=forum, thread_id=topic)
    assert messages(reply)[-1]["plain"] == tr("From now on, events are posted in this topic.")
    await approved_event(session, org)
    await session.commit()
    assert await tick(context(running_bot, session_factory)) == 1
    posts = [p for p in messages(await client.transcript(forum.id)) if "Toi" in (p.get("plain") or "")]
    assert len(posts) == 1 and posts[0]["message_thread_id"] == topic


async def test_a_group_gets_at_most_twenty_cards_a_minute(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep_user = SandboxUser(7051, "Busy")
    org, _rep = await setup_rep(session, rep_user, client)
    await link_chat(client, session, rep_user, org, GROUP)
    for day in range(25):
        await approved_event(session, org, starts_at=utcnow() + timedelta(days=day + 1))
    await session.commit()
    import jobs.org_channels as job

    job._minute_gates.clear()
    gate = job.minute_gate(running_bot.bot)
    for _ in range(17):  # seventeen cards already went to this group in the last minute
        assert gate.try_take(GROUP.id)
    # (Telegram's one message per chat per second makes each card take a second: three, not twenty.)
    sent = await tick(context(running_bot, session_factory))
    assert sent == 3, "the minute's last three places"
    assert await tick(context(running_bot, session_factory)) == 0, "the group is full until the minute has passed"
    assert len([e for e in await client.transcript(GROUP.id) if e["type"] == "message"]) == 3
    stats = await client.stats()
    assert stats["group_429"] == 0


def test_the_minute_gate_holds_a_chat_after_twenty_and_after_a_429() -> None:
    gate = ChatMinuteGate(20)
    assert all(gate.try_take(1) for _ in range(20))
    assert not gate.try_take(1) and gate.try_take(2)
    gate.hold(3, 30)
    assert not gate.try_take(3)
