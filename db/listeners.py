"""ORM listeners, registered once when `db` is imported (db/__init__.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from db.models import Event, Organisation
from db.spatial import geo_cell_for


@event.listens_for(Organisation, "before_insert")
@event.listens_for(Organisation, "before_update")
@event.listens_for(Event, "before_insert")
@event.listens_for(Event, "before_update")
def _keep_geo_cell_in_sync(_mapper: Any, _connection: Any, target: Organisation | Event) -> None:
    # Whoever writes coordinates through the ORM gets a matching key, so nearby search
    # never misses a row because a caller forgot to set geo_cell.
    target.geo_cell = geo_cell_for(target.latitude, target.longitude)
