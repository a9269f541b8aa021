"""APScheduler with its jobs persisted in our database, so a restart loses no schedule."""

from __future__ import annotations

import logging

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from db.session import sync_url

log = logging.getLogger(__name__)

# A job whose time passed while no worker ran still runs when one starts, up to a day late.
MISFIRE_GRACE_SECONDS = 24 * 3600


def create_scheduler(database_url: str) -> AsyncIOScheduler:
    """A scheduler whose job store is the application's database (through a sync driver)."""
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sync_url(database_url), tablename="apscheduler_jobs")},
        job_defaults={"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True, "max_instances": 1},
        timezone="UTC",
    )


def install_standing_jobs(scheduler: AsyncIOScheduler) -> None:
    """Jobs every deployment runs; ids are fixed so a restart replaces rather than duplicates."""
    scheduler.add_job(
        "jobs.housekeeping:purge_abandoned_job",
        trigger="interval",
        hours=6,
        id="housekeeping.purge_abandoned",
        replace_existing=True,
    )
    # Daily; the service decides which organisations are due. 09:00 UTC keeps it out of most nights.
    scheduler.add_job(
        "jobs.freshness:ask_representatives_job",
        trigger="cron",
        hour=9,
        minute=0,
        id="freshness.ask_representatives",
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
