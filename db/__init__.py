"""The database layer: models, sessions, queries, migrations; imports nothing from bot/, handlers/ or jobs/."""

from db import listeners as _listeners  # noqa: F401  (registers the ORM listeners once, whatever is imported first)
