"""Housekeeping: forget what people started and left, as the privacy notice promises."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FsmRecord
from db.types import utcnow
from jobs.context import get_context

log = logging.getLogger(__name__)
ABANDONED_AFTER = timedelta(days=30)


async def purge_abandoned(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete conversations (unfinished registrations, drafts) untouched for 30 days."""
    cutoff = (now or utcnow()) - ABANDONED_AFTER
    result = await session.execute(delete(FsmRecord).where(FsmRecord.updated_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_abandoned_job() -> None:
    """Scheduled entry point of purge_abandoned."""
    async with get_context().session_factory() as session:
        removed = await purge_abandoned(session)
        await session.commit()
    if removed:
        log.info("forgot %d abandoned conversations", removed)
