"""Bulk import and export of organisations and events (CSV or JSON), and the shipped sample data.

File formats (the same columns for import and export, so export -> import round-trips):

* CSV: UTF-8, one header row.  Lists (`languages`) are comma-separated, `name_translations`
  is a JSON object, booleans are true/false, empty cells mean "no value".
* JSON: a list of objects, or an object whose `items` key holds that list (other keys, such as
  a `_note`, are ignored).  Keys starting with "_" inside an item are comments.

An import validates every row first and reports each bad row with its line number and the
reasons; unless `skip_bad` is set, a file with a bad row writes nothing.  Rows are upserted:
organisations by `external_id`, events by (organisation, title, start) because the events table
has no external id of its own.  The functions flush but do not commit: the caller owns the
transaction.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.events import CAPACITY_MAX, EVENT_CATEGORIES, InvalidEventField, clean_capacity, clean_category
from bot.services.validate import InvalidLink, clean_link
from bot.services.vocab import ORGANISATION_CATEGORIES
from db.directory_repo import DirectoryRepo, geo_cell_for
from db.models import Event, EventStatus, Organisation
from db.types import utcnow

from bot.geo import validate_coordinates

__all__ = [
    "ORGANISATION_COLUMNS",
    "EVENT_COLUMNS",
    "SAMPLE_DIR",
    "ImportFileError",
    "RowProblem",
    "ImportReport",
    "import_organisations",
    "export_organisations",
    "import_events",
    "export_events",
    "load_sample_data",
]

ORGANISATION_COLUMNS: tuple[str, ...] = (
    "external_id",
    "name",
    "name_translations",
    "category",
    "description",
    "country_code",
    "city",
    "address",
    "latitude",
    "longitude",
    "languages",
    "phone",
    "email",
    "website",
    "telegram",
    "verified",
    "trusted",
    "is_active",
)
EVENT_COLUMNS: tuple[str, ...] = (
    "organisation_external_id",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "timezone",
    "venue",
    "city",
    "country_code",
    "latitude",
    "longitude",
    "languages",
    "category",
    "capacity",
    "link",
    "status",
)
#: Extra keys of the sample events file: dates relative to the day the samples are loaded.
SAMPLE_EVENT_COLUMNS: tuple[str, ...] = ("starts_in_days", "local_time", "duration_minutes")
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data"
SAMPLE_ORGANISATIONS = SAMPLE_DIR / "sample_organisations.json"
SAMPLE_EVENTS = SAMPLE_DIR / "sample_events.json"
#: Export gives organisations without an external id this one; import recognises it.
_GENERATED_ID = re.compile(r"kardes-org-(\d+)")
_EMAIL = re.compile(r"[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_IN_ROW_CHUNK = 500


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why one row of a file was rejected."""

    line: int
    key: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" ({self.key})" if self.key else "")
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: rows created, updated, unchanged, skipped, and the problems found."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowProblem] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line for the CLI, followed by one line per problem."""
        lines = [
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped, {len(self.errors)} bad rows"
        ]
        if self.errors and not self.imported and not self.skipped:
            lines[0] += " (nothing imported; fix the rows or use --skip-bad)"
        lines.extend(str(problem) for problem in self.errors)
        return "\n".join(lines)


class _Bad(Exception):
    """A field failed validation (collected, not raised to the caller)."""


# --- reading files ---------------------------------------------------------------------


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportFileError(f"{path.name}: use a .csv or .json file")
    return suffix[1:]


def _read_csv(text: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty") from None
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in columns and not name.startswith("_")]
    if unknown:
        raise ImportFileError(f"unknown columns: {', '.join(unknown)}; expected {', '.join(columns)}")
    records: list[tuple[int, dict[str, Any]]] = []
    last_line = reader.line_num
    for row in reader:
        start, last_line = last_line + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            records.append((start, {"_error": f"expected {len(header)} fields, found {len(row)}"}))
            continue
        records.append((start, dict(zip(header, row))))
    return records


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _read_json(text: str) -> list[tuple[int, Any]]:
    """The items of a JSON list with the line each starts on (json.loads alone loses positions)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    decoder = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if text[i] == "{":  # {"_note": "...", "items": [...]}
        i = _skip_ws(text, i + 1)
        while True:
            if text[i] == "}":
                raise ImportFileError('a JSON object file needs an "items" list')
            key, i = decoder.raw_decode(text, i)
            i = _skip_ws(text, _skip_ws(text, i) + 1)  # past the colon
            if key == "items":
                break
            _, i = decoder.raw_decode(text, i)
            i = _skip_ws(text, i)
            if text[i] == ",":
                i = _skip_ws(text, i + 1)
    if text[i] != "[":
        raise ImportFileError("a JSON file must hold a list of objects")
    items: list[tuple[int, Any]] = []
    line, counted = 1, 0
    i = _skip_ws(text, i + 1)
    while text[i] != "]":
        line += text.count("\n", counted, i)
        counted = i
        value, i = decoder.raw_decode(text, i)
        items.append((line, value))
        i = _skip_ws(text, i)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    return items


def _read_records(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    kind = _format_of(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path.name} is not UTF-8 (byte {exc.start})") from None
    if kind == "csv":
        return _read_csv(text, columns)
    records: list[tuple[int, dict[str, Any]]] = []
    for line, item in _read_json(text):
        if not isinstance(item, dict):
            records.append((line, {"_error": "each item must be a JSON object"}))
            continue
        unknown = sorted(k for k in item if k not in columns and not str(k).startswith("_"))
        if unknown:
            item = {**item, "_error": f"unknown field(s): {', '.join(unknown)}"}
        records.append((line, item))
    return records


# --- field validation ------------------------------------------------------------------


def _max_length(model: type, column: str) -> int | None:
    return getattr(model.__table__.c[column].type, "length", None)  # type: ignore[attr-defined]


def _text(record: dict[str, Any], name: str, model: type, *, required: bool = False, column: str | None = None) -> str | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(f"missing {name}")
        return None
    if not isinstance(value, str):
        raise _Bad(f"{name} must be text")
    value = value.strip()
    limit = _max_length(model, column or name)
    if limit is not None and len(value) > limit:
        raise _Bad(f"{name} is too long ({len(value)} characters, at most {limit})")
    return value


def _number(value: Any, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _Bad(f"{name} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Bad(f"{name} is not a number: {value!r}") from None


def _coordinates(record: dict[str, Any]) -> tuple[float | None, float | None]:
    lat = _number(record.get("latitude"), "latitude")
    lon = _number(record.get("longitude"), "longitude")
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        raise _Bad("bad coordinates: give both latitude and longitude, or neither")
    try:
        return validate_coordinates(lat, lon)
    except ValueError as exc:
        raise _Bad(f"bad coordinates: {exc}") from None


def _flag(record: dict[str, Any], name: str, default: bool) -> bool:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise _Bad(f"{name} must be true or false, not {value!r}")


@lru_cache(maxsize=1024)
def _is_language(code: str) -> bool:
    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code) is not None
    return len(code) == 3 and pycountry.languages.get(alpha_3=code) is not None


def _language(code: Any, name: str) -> str:
    if not isinstance(code, str) or not _is_language(code.strip().lower()):
        raise _Bad(f"unknown language code {code!r} in {name} (use ISO 639-1, e.g. tr, kk)")
    return code.strip().lower()


def _languages(record: dict[str, Any]) -> list[str]:
    value = record.get("languages")
    if value is None or value == "":
        return []
    items = re.split(r"[,;\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list):
        raise _Bad("languages must be a list of language codes")
    codes: list[str] = []
    for item in items:
        if item == "":
            continue
        code = _language(item, "languages")
        if code not in codes:
            codes.append(code)
    return codes


def _translations(record: dict[str, Any]) -> dict[str, str]:
    value = record.get("name_translations")
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _Bad('name_translations must be a JSON object, e.g. {"ru": "…"}') from None
    if not isinstance(value, dict):
        raise _Bad("name_translations must be an object of language code -> name")
    limit = _max_length(Organisation, "name") or 200
    result: dict[str, str] = {}
    for code, text in value.items():
        code = _language(code, "name_translations")
        if not isinstance(text, str) or not text.strip():
            raise _Bad(f"name_translations[{code}] must be a non-empty name")
        if len(text.strip()) > limit:
            raise _Bad(f"name_translations[{code}] is too long ({len(text.strip())} characters, at most {limit})")
        result[code] = text.strip()
    return result


def _country(record: dict[str, Any]) -> str | None:
    value = record.get("country_code")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _Bad("country_code must be text")
    value = value.strip()
    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise _Bad(f"country_code {value!r} is not an ISO 3166 alpha-2 code")
    return value.upper()


def _email(record: dict[str, Any]) -> str | None:
    value = _text(record, "email", Organisation)
    if value is not None and not _EMAIL.fullmatch(value):
        raise _Bad(f"bad email {value!r}")
    return value


def _url(record: dict[str, Any], name: str, model: type) -> str | None:
    value = _text(record, name, model)
    if value is None:
        return None
    try:
        return clean_link(value)
    except InvalidLink:
        raise _Bad(f"bad {'website' if name == 'website' else name} {value!r} (an http(s):// address)") from None


def _collect(record: dict[str, Any], parsers: dict[str, Callable[[], Any]]) -> tuple[dict[str, Any], list[str]]:
    """Run every field parser; gather all reasons so one pass over a file shows every problem."""
    if set(record) == {"_error"}:  # the row could not even be split into fields
        return {}, [record["_error"]]
    values: dict[str, Any] = {}
    reasons: list[str] = [record["_error"]] if "_error" in record else []
    for name, parse in parsers.items():
        try:
            values[name] = parse()
        except _Bad as exc:
            reasons.append(str(exc))
    return values, reasons


def _organisation_fields(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    def category() -> str:
        value = _text(record, "category", Organisation, required=True)
        if value not in ORGANISATION_CATEGORIES:
            raise _Bad(f"unknown category {value!r} (one of {', '.join(ORGANISATION_CATEGORIES)})")
        return value

    values, reasons = _collect(
        record,
        {
            "external_id": lambda: _text(record, "external_id", Organisation, required=True),
            "name": lambda: _text(record, "name", Organisation, required=True),
            "name_translations": lambda: _translations(record),
            "category": category,
            "description": lambda: _text(record, "description", Organisation),
            "country_code": lambda: _country(record),
            "city": lambda: _text(record, "city", Organisation),
            "address": lambda: _text(record, "address", Organisation),
            "coordinates": lambda: _coordinates(record),
            "languages": lambda: _languages(record),
            "phone": lambda: _text(record, "phone", Organisation),
            "email": lambda: _email(record),
            "website": lambda: _url(record, "website", Organisation),
            "telegram": lambda: _text(record, "telegram", Organisation),
            "verified": lambda: _flag(record, "verified", False),
            "trusted": lambda: _flag(record, "trusted", False),
            "is_active": lambda: _flag(record, "is_active", True),
        },
    )
    if "coordinates" in values:
        values["latitude"], values["longitude"] = values.pop("coordinates")
    return values, reasons


def _parse_instant(value: Any, name: str, *, required: bool) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _Bad(f"missing {name}")
        return None
    if not isinstance(value, str):
        raise _Bad(f"{name} must be an ISO 8601 text")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Bad(f"{name} is not an ISO 8601 date-time: {value!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Bad(f"{name} needs a UTC offset, e.g. 2026-05-01T19:00:00+02:00")
    return parsed.astimezone(timezone.utc)


def _zone(record: dict[str, Any]) -> str:
    value = _text(record, "timezone", Event, required=True)
    assert value is not None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
    return value


def _event_fields(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    # The same checks as the /submit_event form (bot.services.events), so an import cannot store
    # what a representative could not type: a category outside the list, or 0 places.
    def capacity() -> int | None:
        value = record.get("capacity")
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            if isinstance(value, bool):
                raise InvalidEventField("capacity")
            return clean_capacity(str(value))
        except InvalidEventField:
            raise _Bad(f"capacity must be a whole number from 1 to {CAPACITY_MAX}, not {value!r}") from None

    def category() -> str:
        value = record.get("category")
        try:
            return clean_category(value)
        except InvalidEventField:
            raise _Bad(f"unknown category {value!r} (one of {', '.join(EVENT_CATEGORIES)})") from None

    def status() -> str:
        value = _text(record, "status", Event) or EventStatus.APPROVED.value
        if value not in {s.value for s in EventStatus}:
            raise _Bad(f"unknown status {value!r}")
        return value

    values, reasons = _collect(
        record,
        {
            "organisation_external_id": lambda: _text(
                record, "organisation_external_id", Organisation, required=True, column="external_id"
            ),
            "title": lambda: _text(record, "title", Event, required=True),
            "description": lambda: _text(record, "description", Event),
            "starts_at": lambda: _parse_instant(record.get("starts_at"), "starts_at", required=True),
            "ends_at": lambda: _parse_instant(record.get("ends_at"), "ends_at", required=False),
            "timezone": lambda: _zone(record),
            "venue": lambda: _text(record, "venue", Event),
            "city": lambda: _text(record, "city", Event),
            "country_code": lambda: _country(record),
            "coordinates": lambda: _coordinates(record),
            "languages": lambda: _languages(record),
            "category": category,
            "capacity": capacity,
            "link": lambda: _url(record, "link", Event),
            "status": status,
        },
    )
    if "coordinates" in values:
        values["latitude"], values["longitude"] = values.pop("coordinates")
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts is not None and ends is not None and ends < starts:
        reasons.append("ends_at is before starts_at")
    return values, reasons


# --- writing -----------------------------------------------------------------------------


def _apply(row: Any, fields: dict[str, Any]) -> bool:
    """Set changed fields on a row; returns whether anything changed."""
    changed = False
    for name, value in fields.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed:
        row.geo_cell = geo_cell_for(row.latitude, row.longitude)
    return changed


async def _organisations_for(session: AsyncSession, external_ids: Iterable[str]) -> dict[str, Organisation]:
    """Organisations by external id, adopting exported `kardes-org-<id>` ids of rows that had none."""
    wanted = set(external_ids)
    found = await DirectoryRepo(session).organisations_by_external_ids(wanted)
    for external_id in wanted - found.keys():
        match = _GENERATED_ID.fullmatch(external_id)
        if match:
            org = await session.get(Organisation, int(match.group(1)))
            if org is not None and org.external_id is None:
                found[external_id] = org
    return found


async def _import_organisation_records(
    session: AsyncSession, records: list[tuple[int, dict[str, Any]]], *, skip_bad: bool, is_sample: bool
) -> ImportReport:
    report = ImportReport()
    good: list[tuple[str, dict[str, Any]]] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        key = record.get("external_id")
        key_text = key.strip()[:64] if isinstance(key, str) else None
        fields, reasons = _organisation_fields(record)
        external_id = fields.pop("external_id", None)
        if external_id is not None:
            if external_id in first_line:
                reasons.append(f"duplicate external_id (first on line {first_line[external_id]})")
            else:
                first_line[external_id] = line
        if reasons:
            report.errors.append(RowProblem(line, key_text, "; ".join(reasons)))
        else:
            assert external_id is not None
            good.append((external_id, fields))
    if report.errors and not skip_bad:
        return report
    report.skipped = len(report.errors)
    existing = await _organisations_for(session, [external_id for external_id, _ in good])
    for external_id, fields in good:
        fields["is_sample"] = is_sample
        org = existing.get(external_id)
        if org is None:
            org = Organisation(external_id=external_id)
            _apply(org, {name: value for name, value in fields.items()})
            session.add(org)
            report.created += 1
        else:
            changed = _apply(org, {"external_id": external_id, **fields})
            report.updated += changed
            report.unchanged += not changed
    await session.flush()
    return report


async def import_organisations(session: AsyncSession, path: str | Path, *, skip_bad: bool = False) -> ImportReport:
    """Upsert organisations from a CSV or JSON file by external_id; all-or-nothing unless skip_bad."""
    records = _read_records(Path(path), ORGANISATION_COLUMNS)
    return await _import_organisation_records(session, records, skip_bad=skip_bad, is_sample=False)


def _event_key(organisation_id: int, title: str, starts_at: datetime | None) -> tuple[Any, ...]:
    return (organisation_id, title) if starts_at is None else (organisation_id, title, starts_at)


async def _import_event_records(
    session: AsyncSession, records: list[tuple[int, dict[str, Any]]], *, skip_bad: bool, is_sample: bool
) -> ImportReport:
    report = ImportReport()
    parsed: list[tuple[int, dict[str, Any], list[str]]] = [(line, *_event_fields(record)) for line, record in records]
    hosts = await _organisations_for(
        session, {f["organisation_external_id"] for _, f, _ in parsed if f.get("organisation_external_id")}
    )
    good: list[tuple[Organisation, dict[str, Any]]] = []
    first_line: dict[tuple[Any, ...], int] = {}
    for line, fields, reasons in parsed:
        host_key = fields.pop("organisation_external_id", None)
        host = hosts.get(host_key) if host_key else None
        if host_key and host is None:
            reasons.append(f"unknown organisation {host_key!r} (import organisations first)")
        if host is not None and fields.get("title") and fields.get("starts_at"):
            # Sample events move with the calendar, so they are known by organisation and title.
            key = _event_key(host.id, fields["title"], None if is_sample else fields["starts_at"])
            if key in first_line:
                reasons.append(f"duplicate event (first on line {first_line[key]})")
            else:
                first_line[key] = line
        if reasons:
            title = fields.get("title")
            report.errors.append(RowProblem(line, title if isinstance(title, str) else None, "; ".join(reasons)))
            continue
        assert host is not None
        if fields["latitude"] is None and host.latitude is not None:
            # No venue coordinates: the event is at the organisation's address.
            fields["latitude"], fields["longitude"] = host.latitude, host.longitude
        fields["city"] = fields["city"] or host.city
        fields["country_code"] = fields["country_code"] or host.country_code
        good.append((host, fields))
    if report.errors and not skip_bad:
        return report
    report.skipped = len(report.errors)
    host_ids = sorted({host.id for host, _ in good})
    existing: dict[tuple[Any, ...], Event] = {}
    for start in range(0, len(host_ids), _IN_ROW_CHUNK):
        query = select(Event).where(Event.organisation_id.in_(host_ids[start : start + _IN_ROW_CHUNK]))
        if is_sample:
            query = query.where(Event.is_sample.is_(True))
        for ev in await session.scalars(query):
            existing[_event_key(ev.organisation_id, ev.title, None if is_sample else ev.starts_at)] = ev
    for host, fields in good:
        fields["is_sample"] = is_sample
        key = _event_key(host.id, fields["title"], None if is_sample else fields["starts_at"])
        ev = existing.get(key)
        if ev is None:
            ev = Event(organisation_id=host.id)
            _apply(ev, fields)
            session.add(ev)
            report.created += 1
        else:
            changed = _apply(ev, fields)
            report.updated += changed
            report.unchanged += not changed
    await session.flush()
    return report


async def import_events(session: AsyncSession, path: str | Path, *, skip_bad: bool = False) -> ImportReport:
    """Upsert events from a CSV or JSON file (organisations referenced by external_id); all-or-nothing unless skip_bad."""
    records = _read_records(Path(path), EVENT_COLUMNS)
    return await _import_event_records(session, records, skip_bad=skip_bad, is_sample=False)


# --- export --------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def _write(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    kind = _format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([_csv_cell(row[c]) for c in columns] for row in rows)


def _organisation_external_id(org: Organisation) -> str:
    return org.external_id or f"kardes-org-{org.id}"


async def export_organisations(session: AsyncSession, path: str | Path) -> int:
    """Write every organisation to a .csv or .json file in the import format; returns the row count."""
    path = Path(path)
    _format_of(path)
    orgs = list(await session.scalars(select(Organisation).order_by(Organisation.id)))
    rows = [
        {c: (_organisation_external_id(org) if c == "external_id" else getattr(org, c)) for c in ORGANISATION_COLUMNS}
        for org in orgs
    ]
    _write(path, ORGANISATION_COLUMNS, rows)
    return len(rows)


def _local_iso(moment: datetime | None, zone: str) -> str | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(ZoneInfo(zone)).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.isoformat()


async def export_events(session: AsyncSession, path: str | Path) -> int:
    """Write every event to a .csv or .json file in the import format; returns the row count."""
    path = Path(path)
    _format_of(path)
    rows: list[dict[str, Any]] = []
    result = await session.execute(
        select(Event, Organisation).join(Organisation, Organisation.id == Event.organisation_id).order_by(Event.id)
    )
    for ev, org in result:
        row = {c: getattr(ev, c) for c in EVENT_COLUMNS if hasattr(Event, c)}
        row["organisation_external_id"] = _organisation_external_id(org)
        row["starts_at"] = _local_iso(ev.starts_at, ev.timezone)
        row["ends_at"] = _local_iso(ev.ends_at, ev.timezone)
        rows.append({c: row[c] for c in EVENT_COLUMNS})
    _write(path, EVENT_COLUMNS, rows)
    return len(rows)


# --- sample data ---------------------------------------------------------------------------


def _sample_event_records(records: list[tuple[int, dict[str, Any]]], today: date) -> Iterator[tuple[int, dict[str, Any]]]:
    """Turn "in N days at HH:MM local time" into ISO instants, so sample events are always upcoming."""
    for line, record in records:
        record = dict(record)
        days = record.pop("starts_in_days", None)
        at = record.pop("local_time", None)
        minutes = record.pop("duration_minutes", None)
        zone = record.get("timezone")
        try:
            tz = ZoneInfo(zone) if isinstance(zone, str) else None
        except (ZoneInfoNotFoundError, ValueError):
            tz = None
        if isinstance(days, int) and isinstance(at, str) and tz is not None:
            starts = datetime.combine(today + timedelta(days=days), time.fromisoformat(at), tzinfo=tz)
            record["starts_at"] = starts.isoformat()
            if isinstance(minutes, int):
                record["ends_at"] = (starts + timedelta(minutes=minutes)).isoformat()
        yield line, record


async def load_sample_data(session: AsyncSession, *, now: datetime | None = None) -> tuple[int, int]:
    """Import the shipped fictional organisations and events (marked is_sample), dated from now on; idempotent."""
    orgs = _read_records(SAMPLE_ORGANISATIONS, ORGANISATION_COLUMNS)
    org_report = await _import_organisation_records(session, orgs, skip_bad=False, is_sample=True)
    if org_report.errors:
        raise ImportFileError(f"{SAMPLE_ORGANISATIONS.name}: {org_report.summary()}")
    today = (now or utcnow()).astimezone(timezone.utc).date()
    events = list(_sample_event_records(_read_records(SAMPLE_EVENTS, EVENT_COLUMNS + SAMPLE_EVENT_COLUMNS), today))
    event_report = await _import_event_records(session, events, skip_bad=False, is_sample=True)
    if event_report.errors:
        raise ImportFileError(f"{SAMPLE_EVENTS.name}: {event_report.summary()}")
    return org_report.imported, event_report.imported
