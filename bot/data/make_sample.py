"""Generate the fictional sample directory: `python -m bot.data.make_sample` rewrites the JSON files.

Deterministic (seeded), so re-running produces identical files.  Every organisation and event is
invented: city centres are real, everything else (names, addresses, phones, contacts) is made
up; contacts use example.org only, and each description says the row is sample data.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path

SEED = 20240521
HERE = Path(__file__).resolve().parent
NOTE = (
    "SAMPLE DATA - fictional organisations and events for demos and tests (kardes demo). "
    "City coordinates are real; names, addresses, phone numbers and contacts are invented "
    "(example.org). Loaded with is_sample=true by bot.services.importer.load_sample_data."
)

# (key, Latin name as locals write it, Cyrillic name, country, IANA zone, latitude, longitude, phone prefix)
CITIES = [
    ("berlin", "Berlin", "Берлин", "DE", "Europe/Berlin", 52.5200, 13.4050, "+49 30"),
    ("cologne", "Köln", "Кёльн", "DE", "Europe/Berlin", 50.9375, 6.9603, "+49 221"),
    ("munich", "München", "Мюнхен", "DE", "Europe/Berlin", 48.1351, 11.5820, "+49 89"),
    ("frankfurt", "Frankfurt am Main", "Франкфурт-на-Майне", "DE", "Europe/Berlin", 50.1109, 8.6821, "+49 69"),
    ("hamburg", "Hamburg", "Гамбург", "DE", "Europe/Berlin", 53.5511, 9.9937, "+49 40"),
    ("stuttgart", "Stuttgart", "Штутгарт", "DE", "Europe/Berlin", 48.7758, 9.1829, "+49 711"),
    ("amsterdam", "Amsterdam", "Амстердам", "NL", "Europe/Amsterdam", 52.3676, 4.9041, "+31 20"),
    ("brussels", "Bruxelles", "Брюссель", "BE", "Europe/Brussels", 50.8503, 4.3517, "+32 2"),
    ("vienna", "Wien", "Вена", "AT", "Europe/Vienna", 48.2082, 16.3738, "+43 1"),
    ("zurich", "Zürich", "Цюрих", "CH", "Europe/Zurich", 47.3769, 8.5417, "+41 44"),
    ("london", "London", "Лондон", "GB", "Europe/London", 51.5074, -0.1278, "+44 20"),
    ("paris", "Paris", "Париж", "FR", "Europe/Paris", 48.8566, 2.3522, "+33 1"),
    ("stockholm", "Stockholm", "Стокгольм", "SE", "Europe/Stockholm", 59.3293, 18.0686, "+46 8"),
    ("warsaw", "Warszawa", "Варшава", "PL", "Europe/Warsaw", 52.2297, 21.0122, "+48 22"),
    ("prague", "Praha", "Прага", "CZ", "Europe/Prague", 50.0755, 14.4378, "+420 2"),
    ("moscow", "Moskva", "Москва", "RU", "Europe/Moscow", 55.7558, 37.6173, "+7 495"),
    ("saint-petersburg", "Sankt-Peterburg", "Санкт-Петербург", "RU", "Europe/Moscow", 59.9311, 30.3609, "+7 812"),
    ("kazan", "Kazan", "Казань", "RU", "Europe/Moscow", 55.7961, 49.1064, "+7 843"),
    ("novosibirsk", "Novosibirsk", "Новосибирск", "RU", "Asia/Novosibirsk", 55.0084, 82.9357, "+7 383"),
    ("new-york", "New York", "Нью-Йорк", "US", "America/New_York", 40.7128, -74.0060, "+1 212"),
    ("chicago", "Chicago", "Чикаго", "US", "America/Chicago", 41.8781, -87.6298, "+1 312"),
    ("washington", "Washington", "Вашингтон", "US", "America/New_York", 38.9072, -77.0369, "+1 202"),
    ("toronto", "Toronto", "Торонто", "CA", "America/Toronto", 43.6532, -79.3832, "+1 416"),
    ("seoul", "Seoul", "Сеул", "KR", "Asia/Seoul", 37.5665, 126.9780, "+82 2"),
    ("tokyo", "Tokyo", "Токио", "JP", "Asia/Tokyo", 35.6762, 139.6503, "+81 3"),
    ("dubai", "Dubai", "Дубай", "AE", "Asia/Dubai", 25.2048, 55.2708, "+971 4"),
    ("istanbul", "İstanbul", "Стамбул", "TR", "Europe/Istanbul", 41.0082, 28.9784, "+90 212"),
    ("ankara", "Ankara", "Анкара", "TR", "Europe/Istanbul", 39.9334, 32.8597, "+90 312"),
    ("baku", "Bakı", "Баку", "AZ", "Asia/Baku", 40.4093, 49.8671, "+994 12"),
    ("almaty", "Almaty", "Алматы", "KZ", "Asia/Almaty", 43.2220, 76.8512, "+7 727"),
    ("astana", "Astana", "Астана", "KZ", "Asia/Almaty", 51.1694, 71.4491, "+7 7172"),
    ("bishkek", "Bishkek", "Бишкек", "KG", "Asia/Bishkek", 42.8746, 74.5698, "+996 312"),
    ("tashkent", "Toshkent", "Ташкент", "UZ", "Asia/Tashkent", 41.2995, 69.2401, "+998 71"),
    ("ashgabat", "Aşgabat", "Ашхабад", "TM", "Asia/Ashgabat", 37.9601, 58.3261, "+993 12"),
    ("sydney", "Sydney", "Сидней", "AU", "Australia/Sydney", -33.8688, 151.2093, "+61 2"),
    ("melbourne", "Melbourne", "Мельбурн", "AU", "Australia/Melbourne", -37.8136, 144.9631, "+61 3"),
]

# Which communities' organisations appear in a country (languages of the templates below).
COMMUNITIES = {
    "DE": "tr tr tr az kk uz ru en",
    "NL": "tr tr az uz en",
    "BE": "tr tr az kk en",
    "AT": "tr tr az ky uz en",
    "CH": "tr az kk en",
    "FR": "tr tr az uz en",
    "GB": "en tr az kk uz tk",
    "SE": "tr az kk en",
    "PL": "tr az kk ky uz en",
    "CZ": "tr az kk uz en",
    "RU": "kk ky uz tk az ru ru",
    "US": "en en tr az uz kk",
    "CA": "en tr az uz kk",
    "KR": "en uz kk ky tr",
    "JP": "en tr uz kk",
    "AE": "en tr az uz kk tk",
    "TR": "az uz tk kk ky en",
    "AZ": "tr tk kk uz",
    "KZ": "uz ky tr az ru",
    "KG": "kk uz tr ru",
    "UZ": "kk tk tr ky",
    "TM": "tr uz az",
    "AU": "en tr az uz",
}

# (language, category, name, translations); {city} is the Latin name, {cyr} the Cyrillic one.
TEMPLATES = [
    ("tr", "cultural_centre", "{city} Türk Kültür Evi", {"en": "Turkish Culture House {city}"}),
    ("tr", "association", "{city} Türk Toplumu Derneği", {}),
    ("tr", "school", "Lale Türkçe Hafta Sonu Okulu {city}", {"en": "Lale Turkish Weekend School {city}"}),
    ("tr", "business", "{city} Türk İş İnsanları Birliği", {"en": "Turkish Business Association {city}"}),
    ("tr", "religious", "{city} Hicret Camii Derneği", {}),
    ("tr", "media", "Radyo Köprü {city}", {}),
    ("tr", "student", "{city} Türk Öğrenciler Birliği", {"en": "Turkish Students Union {city}"}),
    ("tr", "official", "Türk Toplumu Danışma Ofisi {city}", {}),
    ("az", "cultural_centre", "{city} Azərbaycan Mədəniyyət Mərkəzi", {"en": "Azerbaijani Cultural Centre {city}", "tr": "{city} Azerbaycan Kültür Merkezi"}),
    ("az", "association", "Azərbaycanlılar Birliyi «Odlar Yurdu» {city}", {}),
    ("az", "student", "Azərbaycan Tələbələri Cəmiyyəti {city}", {"en": "Azerbaijani Students Society {city}"}),
    ("az", "media", "Xəzər Media {city}", {}),
    ("kk", "cultural_centre", "«Атамекен» қазақ мәдени орталығы — {cyr}", {"ru": "Казахский культурный центр «Атамекен» — {cyr}", "en": "Atameken Kazakh Cultural Centre {city}"}),
    ("kk", "association", "Қазақ диаспорасы қауымдастығы — {cyr}", {"en": "Kazakh Diaspora Association {city}"}),
    ("kk", "school", "«Ақбота» қазақ тілі мектебі — {cyr}", {}),
    ("kk", "student", "Қазақ студенттер одағы — {cyr}", {"en": "Kazakh Students Union {city}"}),
    ("ky", "association", "«Ала-Тоо» кыргыз диаспорасы — {cyr}", {"en": "Ala-Too Kyrgyz Diaspora {city}"}),
    ("ky", "cultural_centre", "«Манас» кыргыз маданият борбору — {cyr}", {"ru": "Киргизский культурный центр «Манас» — {cyr}"}),
    ("uz", "cultural_centre", "«Registon» o'zbek madaniyat markazi {city}", {"en": "Registon Uzbek Cultural Centre {city}"}),
    ("uz", "business", "O'zbek tadbirkorlari uyushmasi {city}", {"en": "Uzbek Entrepreneurs Association {city}", "ru": "Ассоциация узбекских предпринимателей — {cyr}"}),
    ("uz", "religious", "«Nur» jamoat markazi {city}", {}),
    ("tk", "cultural_centre", "Türkmen medeniýet merkezi {city}", {"ru": "Туркменский культурный центр — {cyr}"}),
    ("tk", "student", "Türkmen talyplary birleşigi {city}", {}),
    ("ru", "cultural_centre", "Татарский культурный центр «Туган тел» — {cyr}", {"tt": "«Туган тел» татар мәдәни үзәге — {cyr}"}),
    ("ru", "association", "Общество крымских татар «Йылдыз» — {cyr}", {"crh": "Qırımtatar cemiyeti «Yıldız» — {city}"}),
    ("ru", "media", "Тюркский медиаклуб — {cyr}", {}),
    ("en", "association", "Turkic Heritage Society of {city}", {"tr": "{city} Türk Mirası Derneği"}),
    ("en", "official", "Turkic Diaspora Liaison Office {city}", {}),
    ("en", "student", "Central Asian Students Society {city}", {}),
    ("en", "media", "Silk Road Radio {city}", {}),
    ("en", "business", "Turkic Business Network {city}", {"ru": "Тюркская деловая сеть — {cyr}"}),
]

# Extra languages an organisation works in, besides its own.
SECOND_LANGUAGE = {"DE": "de", "NL": "nl", "BE": "fr", "AT": "de", "CH": "de", "FR": "fr", "SE": "sv", "PL": "pl",
                   "CZ": "cs", "RU": "ru", "KZ": "ru", "KG": "ru", "UZ": "ru", "TM": "ru", "TR": "tr", "AZ": "az"}

STREETS = {
    "DE": ["Lindenstraße", "Gartenweg", "Am Markt", "Schillerstraße", "Bahnhofstraße"],
    "AT": ["Lindengasse", "Hauptstraße", "Brunnengasse"],
    "CH": ["Seestrasse", "Bahnhofstrasse", "Kirchgasse"],
    "NL": ["Kerkstraat", "Molenweg", "Dorpsstraat"],
    "BE": ["Rue de l'Église", "Rue des Tilleuls", "Rue du Marché"],
    "FR": ["Rue des Lilas", "Rue du Moulin", "Avenue des Tilleuls"],
    "GB": ["Station Road", "Church Lane", "Park Avenue"],
    "SE": ["Storgatan", "Kyrkogatan", "Parkvägen"],
    "PL": ["ul. Ogrodowa", "ul. Lipowa", "ul. Kwiatowa"],
    "CZ": ["Nádražní", "Školní", "Zahradní"],
    "RU": ["ул. Садовая", "ул. Школьная", "ул. Парковая"],
    "US": ["Maple Street", "Oak Avenue", "Elm Street"],
    "CA": ["Maple Street", "King Street", "Queen Street"],
    "KR": ["Jongno-gil", "Hangang-daero", "Sejong-daero"],
    "JP": ["Chuo-dori", "Sakura-dori", "Minami-dori"],
    "AE": ["Al Wasl Road", "Al Safa Street", "Al Khail Road"],
    "TR": ["Çınar Sokak", "Lale Caddesi", "Gül Sokak"],
    "AZ": ["Nizami küçəsi", "Bülbül prospekti", "Çinar küçəsi"],
    "KZ": ["ул. Абая", "ул. Жибек жолы", "ул. Тулебаева"],
    "KG": ["ул. Киевская", "ул. Токтогула", "ул. Московская"],
    "UZ": ["Navoiy ko'chasi", "Bog'bon ko'chasi", "Chinor ko'chasi"],
    "TM": ["Magtymguly şaýoly", "Bitarap Türkmenistan şaýoly", "Görogly köçesi"],
    "AU": ["George Street", "High Street", "Park Road"],
}

EVENT_TITLES = {
    "tr": ["Nevruz Kutlaması", "Türkçe Kitap Okuma Akşamı", "Türk Halk Müziği Konseri", "Çocuklar İçin Masal Saati", "Kahve ve Sohbet Buluşması"],
    "az": ["Novruz Bayramı Şənliyi", "Muğam Gecəsi", "Azərbaycan Mətbəxi Günü"],
    "kk": ["Наурыз мейрамы", "Домбыра кеші", "Қазақ тілі клубы"],
    "ky": ["Нооруз майрамы", "Комуз кечеси", "Манас айтуу кечеси"],
    "uz": ["Navro'z bayrami", "Palov festivali", "O'zbek tili: ochiq dars"],
    "tk": ["Nowruz baýramy", "Dutar agşamy", "Türkmen halylary sergisi"],
    "ru": ["Сабантуй", "Вечер татарской поэзии", "Мастер-класс по чак-чаку"],
    "en": ["Turkic Film Night", "Career Evening for Turkic Students", "Silk Road Food Fair", "Newcomers' Welcome Meetup"],
}
# The theme drawn for each sample event (the draw order keeps the file stable) and the category in
# bot.services.events.EVENT_CATEGORIES it belongs to: the form, the importer and members' interests
# know only those.
EVENT_THEMES = ["culture", "music", "language", "food", "film", "networking", "family"]
THEME_CATEGORY = {"culture": "culture", "music": "culture", "language": "education", "food": "culture",
                  "film": "culture", "networking": "business", "family": "youth"}


def slug(text: str) -> str:
    """ASCII slug for example.org addresses."""
    ascii_text = unicodedata.normalize("NFKD", text.replace("ı", "i").replace("ə", "e")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "org"


def jitter(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    """A point within about km of (lat, lon), rounded to ~10 m."""
    import math

    dlat = rng.uniform(-km, km) / 111.2
    dlon = rng.uniform(-km, km) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 4), round(lon + dlon, 4)


def build() -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    orgs: list[dict] = []
    by_city: dict[str, list[dict]] = {}
    for key, name, cyr, country, zone, lat, lon, phone in CITIES:
        langs = COMMUNITIES[country].split()
        pool = [t for t in TEMPLATES if t[0] in langs]
        rng.shuffle(pool)
        chosen = pool[:5]
        if key == "berlin":
            chosen.insert(0, ("tr", "cultural_centre", "Türk Kültür Merkezi", {"en": "Turkish Cultural Centre", "de": "Türkisches Kulturzentrum"}))
        if key == "vienna":
            chosen.append(("en", "student", "Kazakh & Kyrgyz Youth <Bridge> Club", {"ru": "Клуб казахской и кыргызской молодёжи «Мост»"}))
        for n, (lang, category, pattern, translations) in enumerate(chosen, start=1):
            org_name = pattern.format(city=name, cyr=cyr)
            cyrillic_city = lang in ("kk", "ky", "ru") and country in ("RU", "KZ", "KG")
            olat, olon = jitter(rng, lat, lon, 6.0)
            street = rng.choice(STREETS[country])
            external_id = f"sample-{key}-{n:02d}"
            languages = [lang]
            second = SECOND_LANGUAGE.get(country, "en")
            if second not in languages:
                languages.append(second)
            if lang not in ("en",) and rng.random() < 0.4:
                languages.append("en")
            site = slug(f"{external_id}-{org_name}")[:60]
            org = {
                "external_id": external_id,
                "name": org_name,
                "name_translations": {k: v.format(city=name, cyr=cyr) for k, v in translations.items()},
                "category": category,
                "description": "Fictional sample organisation (Kardeş demo data); not a real body.",
                "country_code": country,
                "city": cyr if cyrillic_city else name,
                "address": f"{street} {rng.randint(1, 120)}" if country not in ("RU", "KZ", "KG") else f"{street}, д. {rng.randint(1, 120)}",
                "latitude": olat,
                "longitude": olon,
                "languages": languages,
                "phone": f"{phone} 555 {rng.randint(1000, 9999)}",
                "email": f"info.{site[:40]}@example.org",
                "website": f"https://example.org/sample/{site}",
                "verified": rng.random() < 0.5,
                "is_active": True,
            }
            orgs.append(org)
            by_city.setdefault(key, []).append(org)

    events: list[dict] = []
    zones = {c[0]: c[4] for c in CITIES}
    for key, city_orgs in by_city.items():
        used: set[tuple[str, str]] = set()
        for _ in range(2):
            org = rng.choice(city_orgs)
            lang = org["languages"][0]
            titles = [t for t in EVENT_TITLES[lang] if (org["external_id"], t) not in used]
            title = rng.choice(titles)
            used.add((org["external_id"], title))
            events.append(
                {
                    "organisation_external_id": org["external_id"],
                    "title": title,
                    "description": "Fictional sample event (Kardeş demo data).",
                    "starts_in_days": rng.randint(2, 75),
                    "local_time": rng.choice(["11:00", "14:00", "18:30", "19:00"]),
                    "duration_minutes": rng.choice([90, 120, 180]),
                    "timezone": zones[key],
                    "venue": f"{org['name'][:80]}, {org['address']}",
                    "city": org["city"],
                    "country_code": org["country_code"],
                    "latitude": org["latitude"],
                    "longitude": org["longitude"],
                    "languages": org["languages"][:2],
                    "category": THEME_CATEGORY[rng.choice(EVENT_THEMES)],
                    "capacity": rng.choice([None, 40, 80, 150]),
                    "link": f"https://example.org/sample/events/{slug(org['external_id'] + '-' + title)[:60]}",
                    "status": "approved",
                }
            )
    return orgs, events


def main() -> None:
    orgs, events = build()
    for name, items in (("sample_organisations.json", orgs), ("sample_events.json", events)):
        payload = {"_note": NOTE, "is_sample": True, "items": items}
        (HERE / name).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(orgs)} organisations, {len(events)} events in {len({o['city'] for o in orgs})} cities")


if __name__ == "__main__":
    main()
