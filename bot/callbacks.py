"""Callback data factories: every inline button's payload, prefixed and typed."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from db.models import RsvpStatus


class LanguageCB(CallbackData, prefix="lang"):
    code: str


class ConsentCB(CallbackData, prefix="consent"):
    accept: bool


class CityCB(CallbackData, prefix="city"):
    id: int


class OriginCB(CallbackData, prefix="origin"):
    code: str  # ISO alpha-2, or "other" to search


class ToggleCB(CallbackData, prefix="tgl"):
    field: str  # "languages" or "interests"
    value: str


class DoneCB(CallbackData, prefix="done"):
    step: str


class NotifyCB(CallbackData, prefix="ntf"):
    action: str  # "ann", "events", "radius", "quiet", "done"
    value: int = 0


class ProfileCB(CallbackData, prefix="prof"):
    field: str


class MenuCB(CallbackData, prefix="menu"):
    action: str


class EraseCB(CallbackData, prefix="erase"):
    confirm: bool


class NearbyCB(CallbackData, prefix="nb"):
    """A view of the nearby list: centre in hundredths of a degree, radius, kind, category, page."""

    lat: int
    lon: int
    r: int
    k: str = "a"  # a: all, o: organisations, e: events
    c: int = 0  # 0: every category, else index + 1 in ORGANISATION_CATEGORIES
    o: int = 0
    v: str = "l"  # l: the list, c: the category picker


class CardCB(CallbackData, prefix="card"):
    k: str  # o or e
    id: int


class MapCB(CallbackData, prefix="map"):
    k: str
    id: int


class SearchCB(CallbackData, prefix="srch"):
    o: int


class AnnounceCB(CallbackData, prefix="ann"):
    """A step of the /announce composer."""

    action: str  # lang, audience, aud, when, preview, confirm, cancel, photo, link, back, weekday, clear
    value: str = ""


class ScheduledCB(CallbackData, prefix="sched"):
    action: str  # cancel, edit
    id: int


class FormCB(CallbackData, prefix="evf"):
    """A button of the event form: a (action) org, city, day, skip, lang, done, cat, field, submit, discard."""

    a: str
    v: str = ""


class RsvpCB(CallbackData, prefix="rsvp"):
    id: int
    s: str  # g: going, m: maybe, n: not going
    n: int = -1  # guests; -1 keeps the current number


class EventCB(CallbackData, prefix="ev"):
    """ics, att (attendees), edit, cancel, cancel_yes, keep, fo/fc (follow organiser/city), remoff, feednew, feedoff."""

    a: str
    id: int = 0
    o: int = 0


class ModCB(CallbackData, prefix="mod"):
    a: str  # ok or no
    id: int


class ConfirmOrgCB(CallbackData, prefix="fresh"):
    """A representative's answer to "is the entry still correct?"."""

    org_id: int
    still_ok: bool


#: RsvpCB.s codes and the statuses they stand for.
RSVP_CODES = {"g": RsvpStatus.GOING.value, "m": RsvpStatus.MAYBE.value, "n": RsvpStatus.NOT_GOING.value}


class AttendeeMsgCB(CallbackData, prefix="amsg"):
    """start, t (toggle status v), next, lang (add a language), l (language v), send, discard."""

    a: str
    id: int = 0
    v: str = ""


class SeriesCB(CallbackData, prefix="ser"):
    """start, w (weekly), md (monthly on the day), mn (monthly on the nth weekday), d (toggle weekday v), next."""

    a: str
    id: int = 0
    v: int = -1


class LinkCB(CallbackData, prefix="chl"):
    """A chat linked to an organisation (handlers/org_channels.py): ok (link to organisation o), no (decline), rm (unlink)."""

    a: str
    id: int
    o: int = 0
