"""The portal in a real browser: Debian's chromium driven by Selenium through chromedriver.

Screenshots go to test-artefacts/ (git-ignored). Skipped only when chromium or chromedriver is not
installed; .ci/run installs both with apt, so CI runs these.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import load_settings
from db.models import Member, Rsvp
from tests.conftest import ROOT
from tests.test_portal import seed
from tests.test_portal_miniapp import init_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTEFACTS = ROOT / "test-artefacts"
TOKEN = "7000001:AAH-portal-miniapp-token"
WIDTHS = (360, 1280)

pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="kardes-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-default-apps", "--disable-extensions", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
async def site(session_factory, database_url, monkeypatch) -> AsyncIterator[tuple[str, dict[str, int]]]:  # type: ignore[no-untyped-def]
    from bot.web import public_routes, start_http

    monkeypatch.setenv("BOT_USERNAME", "kardes_test_bot")
    monkeypatch.setenv("PORTAL_CACHE_SECONDS", "0")
    ids = await seed(session_factory)
    async with session_factory() as session:
        for n in range(8):
            session.add(Member(telegram_id=9000 + n, locale="kk", registered_at=datetime.now(timezone.utc) - timedelta(days=40),
                               country_code="KZ", city_name="Almaty", origin_country="KZ", languages=["kk"],
                               interests=["culture"], timezone="Asia/Almaty"))
        await session.commit()
    settings = load_settings(database_url=database_url, bot_token=TOKEN, telegram_api_base="http://127.0.0.1:9")
    runner = await start_http(public_routes(session_factory, settings), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", ids
    finally:
        await runner.cleanup()


async def visit(driver, url: str, width: int) -> None:  # type: ignore[no-untyped-def]
    def go() -> None:
        driver.set_window_size(width, 900)
        driver.get_log("browser")  # drop what earlier pages logged
        driver.get(url)

    await asyncio.to_thread(go)
    await asyncio.to_thread(lambda: driver.execute_script("return document.readyState"))


async def problems(driver) -> list[str]:  # type: ignore[no-untyped-def]
    await asyncio.sleep(0.3)
    logs = await asyncio.to_thread(driver.get_log, "browser")
    return [entry["message"] for entry in logs if entry["level"] in ("SEVERE", "WARNING")]


async def shot(driver, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"portal-{name}.png"
    await asyncio.to_thread(driver.save_screenshot, str(path))
    return path


@pytest.mark.slow
async def test_pages_load_without_console_errors_at_phone_and_desktop_widths(driver, site) -> None:  # type: ignore[no-untyped-def]
    base, ids = site
    pages = {"home": "/en/", "directory-search": "/kk/directory?q=%D0%90%D0%BB%D0%BC%D0%B0%D1%82%D1%8B",
             "event": f"/ru/events/{ids['concert']}", "atlas": "/tr/atlas"}
    for width in WIDTHS:
        for name, path in pages.items():
            await visit(driver, base + path, width)
            assert await problems(driver) == [], f"{name} at {width}px"
            overflow = await asyncio.to_thread(
                driver.execute_script, "return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} scrolls sideways at {width}px"
            assert (await shot(driver, f"{name}-{width}")).stat().st_size > 1000
    # The directory search found the Almaty organisation typed in Cyrillic.
    await visit(driver, base + pages["directory-search"], 1280)
    assert "Qazaq Mádenı Ortalyǵy" in await asyncio.to_thread(lambda: driver.find_element("css selector", "main").text)
    # The event page adds the reader's own time (the browser's zone differs from the venue's unless it is Almaty).
    await visit(driver, base + pages["event"], 1280)
    zone = await asyncio.to_thread(driver.execute_script, "return Intl.DateTimeFormat().resolvedOptions().timeZone")
    hidden = await asyncio.to_thread(driver.execute_script, "return document.querySelector('.reader-time').hidden")
    assert hidden is (zone == "Asia/Almaty")


async def test_search_form_and_language_switcher(driver, site) -> None:  # type: ignore[no-untyped-def]
    base, _ids = site
    await visit(driver, base + "/en/", 360)

    def search() -> str:
        box = driver.find_element("id", "home-q")
        box.send_keys("istanbul")
        box.submit()
        return driver.find_element("css selector", "main").text

    text = await asyncio.to_thread(search)
    assert "İstanbul Türk Derneği" in text and "Qazaq" not in text

    def switch() -> tuple[str, str, str]:
        driver.find_element("css selector", '.langs a[hreflang="kk"]').click()
        return (driver.current_url, driver.execute_script("return document.documentElement.lang"),
                driver.find_element("css selector", "h1").text)

    url, lang, heading = await asyncio.to_thread(switch)
    assert "/kk/directory?q=istanbul" in url and lang == "kk"
    assert heading == "Ұйымдар анықтамалығы"
    assert await problems(driver) == []
    await shot(driver, "language-switch-360")


async def test_mini_app_shows_my_events_with_telegram_init_data(driver, site, session_factory) -> None:  # type: ignore[no-untyped-def]
    base, ids = site
    async with session_factory() as session:
        member = Member(telegram_id=424242, locale="ru", registered_at=datetime.now(timezone.utc), timezone="Asia/Almaty")
        session.add(member)
        await session.flush()
        session.add(Rsvp(event_id=ids["concert"], member_id=member.id, status="going", guests=0, waitlisted=False))
        await session.commit()
    from urllib.parse import quote

    await visit(driver, f"{base}/ru/app#tgWebAppData={quote(init_data(TOKEN))}&tgWebAppVersion=8.0", 360)

    def wait_for_list() -> str:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 10).until(lambda d: "Nauryz concert" in d.find_element("id", "my-events").text)
        return driver.find_element("id", "my-events").text

    text = await asyncio.to_thread(wait_for_list)
    assert "Я пойду" in text
    assert await problems(driver) == []
    await shot(driver, "mini-app-my-events-360")


A11Y_SCRIPT = """
const problems = [];
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.type === 'hidden') continue;
  const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]')) || el.getAttribute('aria-label');
  if (!labelled) problems.push('no label: ' + (el.name || el.id));
}
for (const img of document.querySelectorAll('img')) {
  if (!img.getAttribute('alt')) problems.push('no alt: ' + img.src);
}
for (const link of document.querySelectorAll('a, button')) {
  const named = link.textContent.trim() || link.getAttribute('aria-label') || link.querySelector('img[alt]:not([alt=""])');
  if (!named) problems.push('empty control: ' + link.outerHTML);
}
if (!document.documentElement.lang) problems.push('no lang');
if (!document.querySelector('h1')) problems.push('no h1');
return problems;
"""


async def test_accessibility_basics(driver, site) -> None:  # type: ignore[no-untyped-def]
    base, ids = site
    from selenium.webdriver.common.keys import Keys

    for path in ("/en/", "/ru/directory", "/kk/events", f"/tr/events/{ids['concert']}",
                 f"/uz/organisations/{ids['almaty']}", "/ky/atlas", "/az/privacy"):
        await visit(driver, base + path, 360)
        assert await asyncio.to_thread(driver.execute_script, A11Y_SCRIPT) == [], path

    def first_tab() -> tuple[str, str]:
        driver.find_element("tag name", "body").send_keys(Keys.TAB)
        active = driver.switch_to.active_element
        outline = driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", active)
        return active.get_attribute("class"), outline

    await visit(driver, base + "/en/", 1280)
    css_class, outline = await asyncio.to_thread(first_tab)
    assert css_class == "skip" and outline != "none"  # keyboard users can skip to the content, and see where they are
