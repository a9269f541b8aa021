"""An Atlas release is written in its caller's transaction: the bot's update (committed by the
middleware), the CLI's or the worker's own session. No transaction is open while the noise is
drawn, and a release booked by someone else at the same moment leaves nothing half-written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.services import atlas as service
from bot.transaction import current_scope
from db.models import AtlasLedger, AtlasRelease
from tests.chat import tr
from tests.factories import add_member, make_secretariat
from tests.mocked_bot import Chat, mocked_app, recording_bot, texts  # noqa: F401  (mocked_app: a fixture)
from tests.test_atlas import NOW, seed, small_domains  # noqa: F401  (small_domains: a fixture)

SECRETARY = 900_101


async def releases(session_factory: Any) -> tuple[int, int]:
    """Releases and ledger lines as another connection sees them (committed only)."""
    async with session_factory() as other:
        return (await other.scalar(select(func.count(AtlasRelease.id))), await other.scalar(select(func.count(AtlasLedger.id))))


@pytest.fixture
def another_release_at_the_same_moment(monkeypatch, session_factory):  # type: ignore[no-untyped-def]
    """Once a release has drawn its noise and re-read the budget, and before it books, another process
    books one (the same next sequence): the narrowest window, which only the ledger's unique sequence closes."""
    real_budget, real_compute = service.budget, service.compute_release
    drawn: list[bool] = []

    def compute(*args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(True)
        return real_compute(*args, **kwargs)

    async def budget(session, epsilon, lifetime):  # type: ignore[no-untyped-def]
        state = await real_budget(session, epsilon, lifetime)
        if drawn == [True]:
            drawn.append(True)  # once
            async with session_factory() as other:
                plan = await service.plan_release(other, epsilon=epsilon, lifetime=lifetime, now=NOW)
                await other.commit()
                await service.publish_release(other, plan)
                await other.commit()
        return state

    monkeypatch.setattr(service, "compute_release", compute)
    monkeypatch.setattr(service, "budget", budget)


async def test_a_release_is_stored_only_when_its_caller_commits(session, session_factory, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    plan = await service.plan_release(session, epsilon=1.0, lifetime=5.0, now=NOW)
    await session.commit()
    release = await service.publish_release(session, plan, trigger="cli")
    assert release.id is not None and release.public["release"] == release.id
    assert await releases(session_factory) == (0, 0), "written, not committed"
    await session.rollback()
    assert await releases(session_factory) == (0, 0)
    await service.publish_release(session, plan, trigger="cli")
    await session.commit()
    assert await releases(session_factory) == (1, 1)


async def test_a_release_booked_at_the_same_moment_leaves_the_callers_transaction_usable(  # type: ignore[no-untyped-def]
        session, session_factory, small_domains, another_release_at_the_same_moment) -> None:
    await seed(session)
    plan = await service.plan_release(session, epsilon=1.0, lifetime=5.0, now=NOW)
    with pytest.raises(service.ReleaseBusy):
        await service.publish_release(session, plan, trigger="cli")
    await session.commit()  # nothing of the refused release, and no failed flush to roll back first
    assert await releases(session_factory) == (1, 1), "only the other one"


@pytest.fixture
async def secretary(mocked_app, session) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A secretary by the database's role (SECRETARIAT_IDS is empty here), and the seeded members."""
    await seed(session)
    await make_secretariat(session, await add_member(session, SECRETARY))
    await session.commit()
    bot, recorder = recording_bot()
    yield Chat(mocked_app.dispatcher, bot, recorder, SECRETARY)
    await bot.session.close()


async def ask_for_a_release(chat: Chat) -> None:
    await chat.send("/atlas")
    await chat.press(tr("🆕 New release (secretariat)"))


async def test_the_secretariat_publishes_a_release_with_no_transaction_open_while_the_noise_is_drawn(  # type: ignore[no-untyped-def]
        secretary, session_factory, small_domains, monkeypatch) -> None:
    open_while_drawing: list[bool] = []
    real = service.compute_release

    def compute(*args, **kwargs):  # type: ignore[no-untyped-def]
        scope = current_scope.get()  # the update's, copied into the thread with the context
        open_while_drawing.append(scope is not None and scope.session.in_transaction())
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "compute_release", compute)
    await ask_for_a_release(secretary)
    made = await secretary.press(tr("✅ Make the release"))
    assert open_while_drawing == [False]
    assert await releases(session_factory) == (1, 1)
    async with session_factory() as other:
        number = await other.scalar(select(AtlasRelease.id))
    assert texts(made)[0].startswith(tr("Release {n} is published.").format(n=number))


async def test_the_secretariat_is_told_when_another_release_was_booked_at_the_same_moment(  # type: ignore[no-untyped-def]
        secretary, session_factory, small_domains, another_release_at_the_same_moment) -> None:
    await ask_for_a_release(secretary)
    refused = await secretary.press(tr("✅ Make the release"))
    assert texts(refused)[-1] == tr("Another release was being made at the same moment. Please try again.")
    assert await releases(session_factory) == (1, 1), "only the other one"
    shown = await secretary.send("/atlas")  # the next update is served as usual
    assert tr("🆕 New release (secretariat)") in shown[-1].buttons
