"""The scheduled Atlas release: one differentially private snapshot on ATLAS_SCHEDULE (monthly)."""

from __future__ import annotations

import logging

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings, get_settings
from bot.services import atlas
from jobs.context import get_context

log = logging.getLogger(__name__)
JOB_ID = "atlas.release"


async def release_job() -> None:
    """Make the scheduled release, unless the lifetime budget is spent (then say so in the log)."""
    context = get_context()
    settings = context.settings
    async with context.session_factory() as session:  # the job's own session: it commits
        try:
            plan = await atlas.plan_release(session, epsilon=settings.atlas_epsilon, lifetime=settings.atlas_lifetime_epsilon,
                                            min_cell=settings.atlas_min_cell)
            await session.commit()  # the reads end: nothing is held open while the noise is drawn
            release = await atlas.publish_release(session, plan, trigger="schedule")
            await session.commit()
        except atlas.BudgetSpent as refused:
            log.warning("atlas: scheduled release skipped: %s", refused)
            return
        except atlas.ReleaseBusy:
            log.warning("atlas: scheduled release skipped: another release was being made")
            return
    log.info("atlas: release %d published (epsilon %g)", release.id, release.epsilon)


def install_release_job(scheduler: BaseScheduler, settings: Settings | None = None) -> None:
    """Register the release on the configured cron line (UTC); a restart replaces, never duplicates."""
    schedule = (settings or get_settings()).atlas_schedule
    scheduler.add_job("jobs.atlas:release_job", trigger=CronTrigger.from_crontab(schedule, timezone="UTC"),
                      id=JOB_ID, replace_existing=True)
