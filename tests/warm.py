"""What the forkserver of tests/processes.py loads once, so that each process forked from it
starts like a bot whose interpreter is already warm: the bot's modules, matplotlib (the Atlas
charts), Alembic's migration check, and the large tables the bot builds before taking updates
(the children call `warm_up` again, which then finds them built)."""

from importlib import import_module

for name in ("bot.cli", "bot.process", "bot.runtime", "bot.charts", "db.migrate", "jobs.delivery", "jobs.scheduler",
             "matplotlib.figure", "matplotlib.backends.backend_agg"):
    import_module(name)

import_module("bot.geo").warm_up()
