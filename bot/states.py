"""FSM states: one group per multi-step form."""

from aiogram.fsm.state import State, StatesGroup


class Registration(StatesGroup):
    language = State()
    consent = State()
    name = State()
    place = State()
    origin = State()
    origin_search = State()
    languages = State()
    interests = State()
    notifications = State()


class Erasure(StatesGroup):
    confirm = State()


class Announce(StatesGroup):
    menu = State()
    text = State()
    audience_input = State()
    when_input = State()
    photo = State()
    link = State()


class EventForm(StatesGroup):
    organisation = State()
    title = State()
    description = State()
    venue = State()
    start = State()
    end = State()
    languages = State()
    category = State()
    capacity = State()
    link = State()
    preview = State()


class RejectForm(StatesGroup):
    reason = State()


class SeriesForm(StatesGroup):
    """🔁 Repeat an event (handlers/series.py)."""

    kind = State()
    weekdays = State()
    end = State()
