"""The update's transaction: committed before any Bot API request, after-commit hooks (issue 10, item 1)."""

from __future__ import annotations

from sqlalchemy import select

from bot.middlewares import DbSessionMiddleware
from bot.transaction import CommitBeforeRequest
from db.models import Member
from db.types import utcnow


async def _visible(session_factory, telegram_id: int) -> bool:  # type: ignore[no-untyped-def]
    async with session_factory() as other:  # another connection: sees only what was committed
        return await other.scalar(select(Member.id).where(Member.telegram_id == telegram_id)) is not None


async def test_a_write_is_committed_before_the_reply_and_hooks_run_after_the_last_commit(session_factory) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, bool] = {}
    order: list[str] = []

    async def fake_request(bot, method):  # type: ignore[no-untyped-def]
        seen["first at the reply"] = await _visible(session_factory, 501)
        return True

    async def handler(event, data):  # type: ignore[no-untyped-def]
        session = data["session"]
        session.add(Member(telegram_id=501, registered_at=utcnow()))
        await session.flush()
        await CommitBeforeRequest()(fake_request, None, None)  # type: ignore[arg-type]  # what a reply goes through
        session.add(Member(telegram_id=502, registered_at=utcnow()))

        async def hook() -> None:
            order.append("hook")
            seen["second in the hook"] = await _visible(session_factory, 502)

        def failing() -> None:
            raise RuntimeError("a broken hook must not stop the others")

        data["after_commit"](failing)
        data["after_commit"](hook)
        order.append("handler")
        return "done"

    result = await DbSessionMiddleware(session_factory)(handler, object(), {})  # type: ignore[arg-type]
    assert result == "done"
    assert seen == {"first at the reply": True, "second in the hook": True}
    assert order == ["handler", "hook"]


async def test_a_failed_update_commits_nothing_after_its_last_reply_and_drops_its_hooks(session_factory) -> None:  # type: ignore[no-untyped-def]
    ran: list[str] = []

    async def handler(event, data):  # type: ignore[no-untyped-def]
        data["session"].add(Member(telegram_id=503, registered_at=utcnow()))
        data["after_commit"](lambda: ran.append("hook"))
        raise ValueError("the handler failed")

    try:
        await DbSessionMiddleware(session_factory)(handler, object(), {})  # type: ignore[arg-type]
    except ValueError:
        pass
    assert not await _visible(session_factory, 503)
    assert ran == []
