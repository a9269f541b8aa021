"""The code lists the domain is built on: one home for each, imported by every feature that uses it.

A leaf: imports nothing from the rest of the project, so any module may use it without a cycle.
Labels for these codes are translated in `bot.labels`; the codes themselves are stored in rows.
"""

from __future__ import annotations

#: Countries of origin offered as buttons in registration (any ISO code may be typed).
ORIGIN_COUNTRIES = ("TR", "AZ", "KZ", "KG", "UZ", "TM")
#: Languages a member may speak, and an event may be held in.
SPOKEN_LANGUAGES = ("tr", "az", "kk", "ky", "uz", "tk", "tt", "ba", "ug", "crh", "ru", "en", "de")
#: A member's interests; event categories are the same codes, so "interests match" is a plain comparison.
INTERESTS = ("culture", "education", "business", "religion", "youth", "sports", "media", "consular", "volunteering")
EVENT_CATEGORIES = INTERESTS
EVENT_LANGUAGES = SPOKEN_LANGUAGES
#: Organisation category keys.
ORGANISATION_CATEGORIES: tuple[str, ...] = (
    "cultural_centre",
    "association",
    "school",
    "business",
    "religious",
    "media",
    "student",
    "official",
)
#: "Events near me" radii offered in the settings.
RADII_KM = (5, 25, 100)
#: Quiet-hour presets (local time, may cross midnight); None: no quiet hours.
QUIET_PRESETS: tuple[tuple[str, str] | None, ...] = (("22:00", "08:00"), ("23:00", "07:00"), ("21:00", "09:00"), None)
DEFAULT_QUIET = ("22:00", "08:00")
