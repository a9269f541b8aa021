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
