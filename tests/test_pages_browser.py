"""End to end in a real browser: a manager signs in, opens a plan, changes it, approves it, sees
both after a reload, and is refused another unit's employee.

Playwright drives Debian's Chromium (/usr/bin/chromium) against a real uvicorn server on
loopback. With KOMPETEN_SCREENSHOTS=1 the screenshots of the main pages are written to
docs/screenshots/ (the README shows them); otherwise to a temporary folder.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from test_pages import PagesWorld, make_pages_app, make_pages_world, unit_members

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


class Server:
    """uvicorn in a background thread on a free loopback port."""

    def __init__(self, app: object) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module", name="site")
def site_fixture() -> Iterator[tuple[str, PagesWorld]]:
    with tempfile.TemporaryDirectory(prefix="kompeten-browser-") as root:
        pw = make_pages_world(Path(root))
        with Server(make_pages_app(pw, page_size=50)) as base_url:
            yield base_url, pw


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _screenshot_dir(tmp_path: Path) -> Path:
    if os.environ.get("KOMPETEN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


def _sign_in(page: object, base_url: str, key: str, start: str) -> None:
    page.goto(base_url + start)
    page.wait_for_url("**/halaman/masuk**")
    page.fill("#api_key", key)
    page.click("form button.primary")
    page.wait_for_url(f"**{start}")


def _showcase(pw: PagesWorld) -> str:
    """An employee whose plan shows every part of the page: a mentor, a risk note, 2+ steps."""
    state = pw.world.state()
    members = unit_members(pw, pw.leaf)
    for nip in members:
        plan = state.cached_plan(nip)
        if plan["mentor"] and plan["risk_note_id"] and len(plan["training_path"]) >= 2:
            return nip
    return members[0]


def _steps(page: object) -> list[str]:
    return page.locator("tr.step").evaluate_all("rows => rows.map(r => r.dataset.course)")


def test_manager_changes_and_approves_a_plan(site, browser, tmp_path):
    base_url, pw = site
    shots = _screenshot_dir(tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    _sign_in(page, base_url, pw.keys["leaf"], f"/halaman/unit/{pw.leaf}")
    assert page.locator(".ninebox .cell").count() == 9

    nip = _showcase(pw)
    page.click(f'tr.member a[href="/halaman/pegawai/{nip}"]')
    page.wait_for_url(f"**/halaman/pegawai/{nip}")
    before = _steps(page)
    assert before, "the first employee needs a non-empty path"
    options = page.locator("#add option").evaluate_all("os => os.map(o => o.value)")
    added = next(o for o in options if o and o not in before)

    page.check(f'input[name="remove"][value="{before[0]}"]')
    page.select_option("#add", added)
    page.fill("#comment", "Fokus pada kesenjangan utama dulu.")
    page.click('button[name="decision"][value="changed"]')
    page.wait_for_selector(".alert.ok")
    assert page.inner_text("#plan-status") == "Diubah"
    assert _steps(page) == [*before[1:], added]

    page.fill("#comment", "Disetujui.")
    page.click('button[name="decision"][value="approved"]')
    page.wait_for_selector(".alert.ok")
    page.reload()
    assert page.inner_text("#plan-status") == "Disetujui"
    assert _steps(page) == [*before[1:], added]  # the change persisted with the approval
    assert page.locator("ol.history > li").count() == 2
    page.screenshot(path=str(shots / "plan.png"), full_page=True)

    outsider = unit_members(pw, pw.other_unit())[0]
    response = page.goto(f"{base_url}/halaman/pegawai/{outsider}")
    assert response.status == 403
    assert "bukan bagian dari unit Anda" in page.content()
    response = page.goto(f"{base_url}/halaman/unit/{pw.parent}")
    assert response.status == 403
    assert not errors
    context.close()


def test_screenshots_of_the_unit_pages(site, browser, tmp_path):
    base_url, pw = site
    shots = _screenshot_dir(tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 1180}, locale="id-ID")
    page = context.new_page()
    _sign_in(page, base_url, pw.keys["root"], f"/halaman/unit/{pw.parent}")
    page.screenshot(path=str(shots / "unit-overview.png"))
    page.click(f'a[href="/halaman/unit/{pw.parent}/kebutuhan"]')
    page.wait_for_url("**/kebutuhan")
    assert page.locator("table.list").count() == 3
    page.screenshot(path=str(shots / "training-needs.png"))
    context.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = phone.new_page()
    _sign_in(page, base_url, pw.keys["root"], f"/halaman/unit/{pw.parent}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.screenshot(path=str(shots / "unit-overview-phone.png"))
    phone.close()
