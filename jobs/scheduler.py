"""APScheduler, with its standing jobs rebuilt at every start in a memory job store.

Why not APScheduler's SQLAlchemyJobStore: it is synchronous and AsyncIOScheduler calls it on
the event loop, so a locked SQLite file (or a slow PostgreSQL) froze every chat, and an error
raised in its `update_job` stopped the scheduler's wake-ups for good. Nothing here needs it:
every time that matters lives in the domain tables (announcement times, reminders sent, the
digest's last date, the freshness asks), and the jobs below only look at those tables. So the
job store holds nothing worth persisting, and the jobs are installed afresh on each start.
A job that fails is logged by APScheduler and runs again at its next time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from db.types import utcnow

log = logging.getLogger(__name__)

# A job whose time passed while it was still running (or the loop was busy) still runs, up to a day late.
MISFIRE_GRACE_SECONDS = 24 * 3600
# The daily job also runs this long after a start: a worker down at 09:00 would otherwise skip a day.
CATCH_UP_AFTER = timedelta(seconds=60)


def create_scheduler(database_url: str | None = None) -> AsyncIOScheduler:
    """A scheduler with a memory job store (see the module docstring); `database_url` is unused."""
    return AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        job_defaults={"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True, "max_instances": 1},
        timezone="UTC",
    )


def install_standing_jobs(scheduler: AsyncIOScheduler) -> None:
    """Jobs every deployment runs; ids are fixed so installing again replaces rather than duplicates."""
    scheduler.add_job(
        "jobs.housekeeping:purge_abandoned_job",
        trigger="interval",
        hours=6,
        id="housekeeping.purge_abandoned",
        replace_existing=True,
    )
    # Daily; the service decides which organisations are due (asking twice in a day asks nobody twice).
    scheduler.add_job(
        "jobs.freshness:ask_representatives_job",
        trigger="cron",
        hour=9,
        minute=0,
        id="freshness.ask_representatives",
        replace_existing=True,
    )
    scheduler.add_job(
        "jobs.freshness:ask_representatives_job",
        trigger="date",
        run_date=utcnow() + CATCH_UP_AFTER,
        id="freshness.catch_up",
        replace_existing=True,
    )
    scheduler.add_job(
        "jobs.announcements:tick_job",
        trigger="interval",
        seconds=5,
        id="announcements.tick",
        replace_existing=True,
    )
    scheduler.add_job(
        "jobs.digest:digest_job",
        trigger="cron",
        minute="*/15",
        id="digest.weekly",
        replace_existing=True,
    )
    scheduler.add_job(
        "jobs.reminders:send_reminders_job",
        trigger="interval",
        minutes=5,
        id="events.reminders",
        replace_existing=True,
    )
    scheduler.add_job("jobs.org_channels:tick_job", trigger="interval", seconds=15, id="org_channels.tick", replace_existing=True)
    from jobs.atlas import install_release_job  # the Atlas's own differentially private release (ATLAS_SCHEDULE)

    install_release_job(scheduler)
