"""Manager pages: sign-in and scope, the overview's filters and 9-box, plan review through the
API's review storage, the training-needs analysis, and the downloads.

The pure parts (9-box, needs analysis, plan changes, overview sorting, exports, chart) are
tested on hand-written data with exact answers; the pages on the shared serving world, with
their own review database so the API review tests' counts are untouched.
"""

from __future__ import annotations

import csv
import html
import io
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest_serving import (
    OLD_DEVELOPMENT_KEY,
    RecordingLog,
    StaticSource,
    World,
    candidate_signing_keys,
    leaf_unit,
    nip_in,
    parent_unit,
    serve_ready,
    serving_world,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from starlette.datastructures import FormData

import serving.pages.needs_analysis as na
from features import columns as c
from features.competency import CURRENT_LEVEL, GAP, REQUIRED
from features.evaluation import SKP_LATEST, SKP_MEAN_LAST3
from features.settings import PagesSettings
from serving.app import create_app
from serving.db import PlanReviewRecord, open_database
from serving.keys import create_key, revoke_key
from serving.pages.charts import CompetencyBar, competency_chart
from serving.pages.employee import FormProblem, requested_changes, requested_order
from serving.pages.exports import csv_bytes, safe_text, xlsx_bytes
from serving.pages.i18n import MESSAGES, Translator, format_number, translate
from serving.pages.overview import SORTS, OverviewQuery, filter_rows, paginate, sort_rows
from serving.pages.session import SESSION_COOKIE, safe_next, sign, unsign
from serving.pages.signin_throttle import SignInThrottle
from serving.pages.talent_box import (
    ADVICE,
    BOX,
    BOX_GRID,
    BoxCuts,
    box_counts,
    box_cuts,
    box_members,
    talent_boxes,
)
from serving.pages.unit import NEEDS_TABLES
from serving.pages.unit_view import MemberRow
from serving.services.plans import SUPPORTS_REORDER, ReviewEntry, apply_changes, plan_status

TEMPLATES = Path(__file__).resolve().parent.parent / "serving" / "templates"
STATIC = Path(__file__).resolve().parent.parent / "serving" / "static"


# --- the pages' world -----------------------------------------------------------------------------


@dataclass
class PagesWorld:
    world: World
    settings: object
    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)

    @property
    def leaf(self) -> str:
        return leaf_unit(self.world)

    @property
    def parent(self) -> str:
        return parent_unit(self.world)

    def other_unit(self) -> str:
        """A sub-unit of the parent that is not the leaf (another kelurahan)."""
        emp = self.world.view.employees
        units = self.world.tables[c.UNITS]
        siblings = units.loc[units[c.PARENT_UNIT_ID] == self.parent, c.UNIT_ID].astype(str)
        staffed = set(emp[c.UNIT_ID].astype(str))
        return next(u for u in siblings if u != self.leaf and u in staffed)

    def reviews(self, nip: str) -> list[PlanReviewRecord]:
        with open_database(self.settings.resolved_database_url) as sessions, sessions() as s:
            return list(
                s.scalars(
                    select(PlanReviewRecord)
                    .where(PlanReviewRecord.nip == nip)
                    .order_by(PlanReviewRecord.id)
                )
            )


def make_pages_world(root: Path) -> PagesWorld:
    """The serving world with a review database of its own and one key per kind of viewer."""
    world = serving_world()
    settings = world.settings.model_copy(update={"database_url": f"sqlite:///{root / 'pages.db'}"})
    pw = PagesWorld(world, settings)
    other = None
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        for name, role, units in (
            ("leaf", "manager", (pw.leaf,)),
            ("root", "manager", (pw.parent,)),
            ("analyst", "analyst", ()),
            ("revoked", "manager", (pw.leaf,)),
        ):
            key, raw = create_key(session, role, units, label=f"Test {name}")
            pw.keys[name] = raw
            pw.key_ids[name] = key.key_id
            if name == "revoked":
                revoke_key(session, key.key_id)
        other = pw.other_unit()
        key, raw = create_key(session, "manager", (other,), label="Test other")
        pw.keys["other"] = raw
    return pw


def make_pages_app(pw: PagesWorld, **pages: object) -> FastAPI:
    settings = serve_ready(pw.settings).model_copy(
        update={"pages": PagesSettings(**{"page_size": 1000, **pages})}
    )
    app = create_app(settings, StaticSource(pw.world), RecordingLog())
    return app


@pytest.fixture(scope="module", name="pw")
def pw_fixture() -> Iterator[PagesWorld]:
    with tempfile.TemporaryDirectory(prefix="kompeten-pages-") as root:
        yield make_pages_world(Path(root))


@pytest.fixture(scope="module", name="client")
def client_fixture(pw: PagesWorld) -> Iterator[TestClient]:
    with TestClient(make_pages_app(pw)) as test_client:
        yield test_client


def form_token(html: str, name: str = "csrf_token") -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


def sign_in(client: TestClient, raw_key: str) -> None:
    client.cookies.clear()
    page = client.get("/halaman/masuk")
    response = client.post(
        "/halaman/masuk",
        data={"api_key": raw_key, "csrf_token": form_token(page.text), "next": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]


def member_nips(html: str) -> list[str]:
    return re.findall(r'<tr class="member" data-nip="(\d{18})"', html)


def step_courses(html: str) -> list[str]:
    return re.findall(r'<tr class="step" data-course="([^"]+)"', html)


def unit_members(pw: PagesWorld, unit: str) -> list[str]:
    state = pw.world.state()
    return list(state.unit_members(unit))


# --- sign-in, session, scope ----------------------------------------------------------------------


def test_pages_need_a_signed_in_viewer(client):
    client.cookies.clear()
    response = client.get("/halaman/unit", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/halaman/masuk?next=%2Fhalaman%2Funit"
    page = client.get("/halaman/masuk")
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert "Masuk ke halaman atasan" in page.text  # Bahasa Indonesia by default


def test_sign_in_checks_key_and_form_token(client, pw):
    client.cookies.clear()
    page = client.get("/halaman/masuk")
    token = form_token(page.text)
    bad = client.post("/halaman/masuk", data={"api_key": "kmp_nope", "csrf_token": token})
    assert bad.status_code == 401 and "tidak valid" in bad.text
    token = form_token(bad.text)  # every rendering of the form carries a fresh token
    revoked = client.post(
        "/halaman/masuk", data={"api_key": pw.keys["revoked"], "csrf_token": token}
    )
    assert revoked.status_code == 401
    client.cookies.clear()  # no sign-in token cookie: the form is refused
    forged = client.post("/halaman/masuk", data={"api_key": pw.keys["leaf"], "csrf_token": "x"})
    assert forged.status_code == 400
    assert SESSION_COOKIE not in client.cookies


def test_footer_cites_the_20_jp_rule_as_pp_11_2017_pasal_203(client):
    client.cookies.clear()
    page = client.get("/halaman/masuk")
    assert page.status_code == 200
    assert "Minimal 20 JP per tahun: PP 11/2017 Pasal 203 ayat (4) jo. PP 17/2020" in page.text
    assert "PP 17/2020 art. 203" not in page.text and "PP 17/2020 (art. 203)" not in page.text


def test_sign_in_attempts_are_throttled_per_client(pw):
    with TestClient(make_pages_app(pw, signin_max_failures=3, signin_window_s=600)) as client:
        for _ in range(3):
            page = client.get("/halaman/masuk")
            bad = client.post(
                "/halaman/masuk", data={"api_key": "kmp_guess", "csrf_token": form_token(page.text)}
            )
            assert bad.status_code == 401
        page = client.get("/halaman/masuk")
        good = {"api_key": pw.keys["leaf"], "csrf_token": form_token(page.text)}
        throttled = client.post("/halaman/masuk", data=good, follow_redirects=False)
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
        assert "Terlalu banyak" in throttled.text and SESSION_COOKIE not in client.cookies


def test_throttle_window_and_success_reset():
    now = [0.0]
    throttle = SignInThrottle(max_failures=2, window_s=60, clock=lambda: now[0])
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 60 and throttle.retry_after("b") == 0
    now[0] = 30.0
    assert throttle.retry_after("a") == 30
    now[0] = 61.0
    assert throttle.retry_after("a") == 0  # the old failures left the window
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 0


def test_session_cookie_is_http_only_lax_and_secure_over_https(client, pw):
    client.cookies.clear()
    page = client.get("/halaman/masuk")
    response = client.post(
        "/halaman/masuk",
        data={"api_key": pw.keys["leaf"], "csrf_token": form_token(page.text), "next": ""},
        follow_redirects=False,
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if SESSION_COOKIE in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/halaman" in cookie
    assert "Secure" not in cookie  # plain http in the test client
    assert pw.keys["leaf"] not in cookie  # only the key's public id is in the cookie
    https = TestClient(client.app, base_url="https://testserver")
    page = https.get("/halaman/masuk")
    response = https.post(
        "/halaman/masuk",
        data={"api_key": pw.keys["leaf"], "csrf_token": form_token(page.text), "next": ""},
        follow_redirects=False,
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if SESSION_COOKIE in h)
    assert "Secure" in cookie


def test_tampered_or_revoked_session_goes_back_to_sign_in(client, pw):
    sign_in(client, pw.keys["leaf"])
    token = client.cookies[SESSION_COOKIE]
    assert client.get("/halaman/unit").status_code == 200
    client.cookies.set(SESSION_COOKIE, token[:-3] + "AAA", path="/halaman")
    response = client.get("/halaman/unit", follow_redirects=False)
    assert response.status_code == 303 and "/halaman/masuk" in response.headers["location"]


def test_a_cookie_signed_with_the_old_development_constant_is_refused(client, pw):
    expires = int(datetime.now(UTC).timestamp()) + 3600
    for key in candidate_signing_keys(OLD_DEVELOPMENT_KEY):
        client.cookies.clear()
        payload = {"k": pw.key_ids["leaf"], "s": "session", "c": "csrf", "e": expires}
        client.cookies.set(SESSION_COOKIE, sign(payload, key), path="/halaman")
        response = client.get("/halaman/unit", follow_redirects=False)
        assert response.status_code == 303 and "/halaman/masuk" in response.headers["location"]


def test_session_signing_round_trip():
    key = b"k" * 32
    token = sign({"k": "abc", "e": 1}, key)
    assert unsign(token, key) == {"k": "abc", "e": 1}
    assert unsign(token, b"x" * 32) is None
    assert unsign(token + "x", key) is None and unsign("garbage", key) is None
    assert safe_next("https://evil.example/halaman/unit") == "/halaman/unit"
    assert safe_next("//evil.example/") == "/halaman/unit"
    assert safe_next("/halaman/pegawai/1?x=1") == "/halaman/pegawai/1?x=1"


def test_sign_out_needs_the_form_token(client, pw):
    sign_in(client, pw.keys["leaf"])
    refused = client.post("/halaman/keluar", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    page = client.get(f"/halaman/unit/{pw.leaf}")
    done = client.post(
        "/halaman/keluar", data={"csrf_token": form_token(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/halaman/masuk"
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/halaman/unit", follow_redirects=False).status_code == 303


def test_a_signed_out_cookie_is_refused_by_the_server(client, pw):
    sign_in(client, pw.keys["leaf"])
    cookie = client.cookies[SESSION_COOKIE]
    page = client.get(f"/halaman/unit/{pw.leaf}")
    client.post("/halaman/keluar", data={"csrf_token": form_token(page.text)})
    client.cookies.set(SESSION_COOKIE, cookie, path="/halaman")  # a copy kept by someone
    replayed = client.get("/halaman/unit", follow_redirects=False)
    assert replayed.status_code == 303 and "/halaman/masuk" in replayed.headers["location"]
    sign_in(client, pw.keys["leaf"])  # a new sign-in is a new session
    assert client.get("/halaman/unit", follow_redirects=False).status_code == 303
    assert client.get(f"/halaman/unit/{pw.leaf}").status_code == 200


def test_manager_sees_only_own_units(client, pw):
    sign_in(client, pw.keys["leaf"])
    landing = client.get("/halaman/unit", follow_redirects=False)
    assert landing.headers["location"] == f"/halaman/unit/{pw.leaf}"
    own = client.get(f"/halaman/unit/{pw.leaf}")
    assert own.status_code == 200
    assert sorted(member_nips(own.text)) == sorted(unit_members(pw, pw.leaf))
    parent = client.get(f"/halaman/unit/{pw.parent}")
    assert parent.status_code == 403 and "bukan bagian dari unit Anda" in parent.text
    assert parent.headers["content-type"].startswith("text/html")
    outsider = unit_members(pw, pw.other_unit())[0]
    refused = client.get(f"/halaman/pegawai/{outsider}")
    assert refused.status_code == 403
    assert client.get(f"/halaman/unit/{pw.other_unit()}/kebutuhan").status_code == 403
    assert client.get(f"/halaman/unit/{pw.other_unit()}/disetujui.csv").status_code == 403
    assert client.get("/halaman/pegawai/199001012015011999").status_code == 404
    assert client.get("/halaman/pegawai/not-a-nip").status_code == 404
    assert client.get("/halaman/unit/NO-SUCH-UNIT").status_code == 404
    # the parent's manager reaches the sub-unit's staff
    sign_in(client, pw.keys["root"])
    assert client.get(f"/halaman/pegawai/{nip_in(pw.world, pw.leaf)}").status_code == 200


def test_pages_send_security_headers_and_load_nothing_external(client, pw):
    sign_in(client, pw.keys["leaf"])
    page = client.get(f"/halaman/unit/{pw.leaf}")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    css = client.get("/halaman/static/style.css")
    assert css.status_code == 200 and "@media" in css.text
    for path in [*TEMPLATES.glob("*.html"), *STATIC.glob("*")]:
        text = path.read_text(encoding="utf-8")
        external = re.findall(r"(?:src|href)=\"(?:https?:)?//", text)
        assert not external, f"{path.name} loads something external"


def test_language_toggle(client, pw):
    sign_in(client, pw.keys["leaf"])
    target = f"/halaman/unit/{pw.leaf}"
    switched = client.get(f"/halaman/bahasa?lang=en&next={target}", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == target
    english = client.get(target)
    assert "9-box talent map" in english.text and '<html lang="en">' in english.text
    away = client.get("/halaman/bahasa?lang=id&next=https://evil.example", follow_redirects=False)
    assert away.headers["location"] == "/halaman/unit"
    assert '<html lang="id">' in client.get(target).text


# --- overview -------------------------------------------------------------------------------------


def _jp_this_year(pw: PagesWorld) -> dict[str, float]:
    """Independent recount of the JP completed this calendar year, from the raw tables."""
    tables = pw.world.tables
    as_of = pw.world.state().as_of
    enr = tables[c.ENROLLMENTS]
    hours = tables[c.COURSES].set_index(c.COURSE_ID)[c.HOURS_JP]
    done = enr.loc[
        (enr[c.STATUS] == "completed")
        & (enr[c.END_DATE] >= pd.Timestamp(as_of.year, 1, 1))
        & (enr[c.END_DATE] <= as_of)
    ]
    return done.assign(jp=hours.reindex(done[c.COURSE_ID]).to_numpy()).groupby(c.NIP)["jp"].sum()


def test_overview_filters_and_sorting(client, pw):
    sign_in(client, pw.keys["root"])
    url = f"/halaman/unit/{pw.parent}"
    members = unit_members(pw, pw.parent)
    everyone = member_nips(client.get(url).text)
    assert sorted(everyone) == sorted(members)

    jp = _jp_this_year(pw)
    expected_behind = sorted(n for n in members if jp.get(n, 0.0) < 20)
    assert sorted(member_nips(client.get(url, params={"behind": "1"}).text)) == expected_behind

    by_jp = member_nips(client.get(url, params={"sort": "jp"}).text)
    values = [jp.get(n, 0.0) for n in by_jp]
    assert values == sorted(values)

    emp = pw.world.view.employees
    sub = pw.leaf
    only_leaf = member_nips(client.get(url, params={"unit": sub}).text)
    assert sorted(only_leaf) == sorted(emp.loc[emp[c.UNIT_ID] == sub, c.NIP].astype(str))

    state = pw.world.state()
    threshold = state.planner.risk_threshold
    risky = sorted(
        n
        for n in members
        if state.cached_plan(n)["participation_risk"] is not None
        and state.cached_plan(n)["participation_risk"] >= threshold
    )
    assert sorted(member_nips(client.get(url, params={"risk": "high"}).text)) == risky

    boxes = talent_boxes(
        emp.loc[emp[c.NIP].isin(members)],
        state.view.competency.loc[state.view.competency[c.NIP].isin(members)],
        box_cuts(PagesSettings()),
    )
    page = client.get(url).text
    for box, count in box_counts(boxes).items():
        assert re.search(rf'data-box="{box}"[^>]*>{count}</a>', page), f"box {box}"
        assert len(member_nips(client.get(url, params={"box": box}).text)) == count

    name = pw.world.tables[c.EMPLOYEES].set_index(c.NIP).loc[members[0], c.NAME]
    found = member_nips(client.get(url, params={"q": name.split(",")[0]}).text)
    assert members[0] in found
    assert member_nips(client.get(url, params={"q": members[0]}).text) == [members[0]]
    # nonsense parameters are ignored, not errors
    assert len(member_nips(client.get(url, params={"box": "99", "sort": "x"}).text)) == len(members)


def test_overview_pagination(pw):
    with TestClient(make_pages_app(pw, page_size=7)) as paged:
        sign_in(paged, pw.keys["root"])
        url = f"/halaman/unit/{pw.parent}"
        first = member_nips(paged.get(url).text)
        second = member_nips(paged.get(url, params={"page": 2}).text)
        assert len(first) == 7 and len(second) == 7 and not set(first) & set(second)


# --- plan page and reviews ------------------------------------------------------------------------


def _plan(client: TestClient, nip: str):
    page = client.get(f"/halaman/pegawai/{nip}")
    assert page.status_code == 200, page.text[:300]
    return page


def _addable(html: str, exclude: list[str]) -> str:
    options = re.findall(r'<option value="([^"]+)">', html)
    return next(o for o in options if o not in exclude)


def _decide(client: TestClient, nip: str, page_html: str, **data: object):
    body = {
        "csrf_token": form_token(page_html),
        "request_id": form_token(page_html, "request_id"),
        "comment": "",
        **data,
    }
    return client.post(f"/halaman/pegawai/{nip}/tinjauan", data=body, follow_redirects=False)


def test_plan_page_shows_chart_path_mentor_and_risk(client, pw):
    sign_in(client, pw.keys["leaf"])
    nip = unit_members(pw, pw.leaf)[0]
    page = _plan(client, nip).text
    plan = pw.world.state().cached_plan(nip)
    assert step_courses(page) == [s["course_id"] for s in plan["training_path"]]
    assert '<svg class="chart"' in page and 'role="img"' in page
    assert f">{plan['total_jp']}</td>" in page
    assert "Risiko partisipasi" in page and "Mentor yang diusulkan" in page
    if plan["training_path"]:
        assert plan["training_path"][0]["reason_id"].split(":")[0] in page


def test_mentor_card_shows_an_outside_mentors_unit_not_their_nip(client, pw):
    """A manager sees their own staff's NIPs; a proposed mentor from another unit appears by
    name and unit only (UU 27/2022: what approving the pairing needs, nothing more)."""
    state = pw.world.state()

    def proposed(unit: str, inside: bool) -> tuple[str, str]:
        scope = state.scope_of((unit,))
        for nip in unit_members(pw, unit):
            mentor = (state.cached_plan(nip).get("mentor") or {}).get("mentor_nip")
            if mentor and (state.unit_of.get(mentor) in scope) == inside:
                return nip, mentor
        raise AssertionError(f"the test world proposes no such mentor in {unit}")

    nip, mentor = proposed(pw.leaf, inside=False)
    unit = state.unit_of[mentor]
    sign_in(client, pw.keys["leaf"])
    page = _plan(client, nip).text
    assert mentor not in page and state.unit_names.get(unit, unit) in page
    employees = pw.world.tables[c.EMPLOYEES].set_index(c.NIP)
    assert html.escape(str(employees.at[mentor, c.NAME])) in page
    sign_in(client, pw.keys["analyst"])  # reads everyone: the NIP is shown
    assert mentor in _plan(client, nip).text
    nip, mentor = proposed(pw.parent, inside=True)
    sign_in(client, pw.keys["root"])
    assert mentor in _plan(client, nip).text


def test_change_then_approve_is_stored_in_the_api_review_table(client, pw):
    sign_in(client, pw.keys["leaf"])
    nip = unit_members(pw, pw.leaf)[1]
    page = _plan(client, nip).text
    before = step_courses(page)
    assert before, "the test needs a non-empty path"
    added = _addable(page, before)
    changed = _decide(
        client, nip, page, decision="changed", remove=[before[0]], add=added, comment="Fokus."
    )
    assert changed.status_code == 303
    after_page = _plan(client, nip).text
    after = step_courses(after_page)
    assert after == [*before[1:], added]
    assert "Diubah" in after_page and "ditambahkan atasan" in after_page

    approved = _decide(client, nip, after_page, decision="approved", comment="Setuju.")
    assert approved.status_code == 303
    final = _plan(client, nip).text
    assert step_courses(final) == after  # the change survives the approval
    assert 'id="plan-status">Disetujui<' in final

    records = pw.reviews(nip)
    assert [r.decision for r in records] == ["changed", "approved"]
    assert records[0].changes["remove_course_ids"] == [before[0]]
    assert records[0].changes["add_course_ids"] == [added]
    assert records[0].key_id == pw.key_ids["leaf"] and records[0].model_version == "1"
    # the API reads the same history
    api = client.get(f"/v1/plans/{nip}/reviews", headers={"X-API-Key": pw.keys["leaf"]})
    assert [r["decision"] for r in api.json()["reviews"]] == ["changed", "approved"]

    overview = client.get(f"/halaman/unit/{pw.leaf}", params={"status": "approved"}).text
    assert nip in member_nips(overview)


def test_review_form_rules(client, pw):
    sign_in(client, pw.keys["leaf"])
    nip = unit_members(pw, pw.leaf)[2]
    page = _plan(client, nip).text
    nothing = _decide(client, nip, page, decision="changed")
    assert nothing.status_code == 400 and "Tidak ada perubahan" in nothing.text
    no_reason = _decide(client, nip, page, decision="rejected")
    assert no_reason.status_code == 400 and "alasan penolakan" in no_reason.text
    bad_course = _decide(client, nip, page, decision="changed", add="NO-SUCH-COURSE")
    assert bad_course.status_code == 400
    forged = client.post(
        f"/halaman/pegawai/{nip}/tinjauan",
        data={"csrf_token": "x", "request_id": "r1", "decision": "approved"},
    )
    assert forged.status_code == 403
    assert pw.reviews(nip) == []

    first = _decide(client, nip, page, decision="rejected", comment="Belum sesuai.")
    again = _decide(client, nip, page, decision="rejected", comment="Belum sesuai.")
    assert first.status_code == again.status_code == 303  # a double click stores one review
    assert [r.decision for r in pw.reviews(nip)] == ["rejected"]
    reused = _decide(client, nip, page, decision="approved")
    assert reused.status_code == 409


def test_form_refuses_a_course_without_its_prerequisite(client, pw):
    """The form goes through the API's change rules: the page says why, nothing is stored."""
    sign_in(client, pw.keys["leaf"])
    state = pw.world.state()
    catalog = state.planner.catalog
    ids = [str(x) for x in catalog.course_ids]
    for nip in unit_members(pw, pw.leaf)[5:]:
        view = state.employee_view(nip)
        taken = set(view.completed[c.COURSE_ID]) | set(view.ongoing[c.COURSE_ID])
        path = {s["course_id"] for s in state.plan(nip)["training_path"]}
        chained = [
            cid
            for i, cid in enumerate(ids)
            if catalog.active[i]
            and len(catalog.prerequisites[i])
            and cid not in taken | path
            and not {ids[p] for p in catalog.prerequisites[i]} & (taken | path)
        ]
        if chained:
            break
    else:
        raise AssertionError("no employee to add a course without its prerequisite to")
    page = _plan(client, nip).text
    refused = _decide(client, nip, page, decision="changed", add=chained[0])
    assert refused.status_code == 400 and "prasyarat" in refused.text.lower()
    assert "belum selesai" in refused.text  # the page names this rule, not a generic refusal
    assert pw.reviews(nip) == []


def test_read_only_roles_cannot_review(client, pw):
    sign_in(client, pw.keys["analyst"])
    nip = unit_members(pw, pw.leaf)[3]
    page = _plan(client, nip).text
    assert 'id="tinjauan-form"' not in page and "hanya dapat membaca" in page
    refused = client.post(
        f"/halaman/pegawai/{nip}/tinjauan",
        data={"csrf_token": form_token(page), "request_id": "r-1", "decision": "approved"},
    )
    assert refused.status_code == 403
    assert pw.reviews(nip) == []


@pytest.mark.skipif(not SUPPORTS_REORDER, reason="PlanChanges has no course_order field yet")
def test_reorder_is_persisted(client, pw):
    sign_in(client, pw.keys["leaf"])
    nip = unit_members(pw, pw.leaf)[4]
    page = _plan(client, nip).text
    before = step_courses(page)
    if len(before) < 2:
        pytest.skip("needs a path of two courses")
    positions = list(range(len(before), 0, -1))
    response = _decide(
        client,
        nip,
        page,
        decision="changed",
        position_course=before,
        position=[str(p) for p in positions],
    )
    assert response.status_code == 303
    assert step_courses(_plan(client, nip).text) == list(reversed(before))


# --- training-needs analysis and downloads --------------------------------------------------------


def test_needs_page_and_downloads_parse(client, pw):
    sign_in(client, pw.keys["root"])
    base = f"/halaman/unit/{pw.parent}"
    page = client.get(f"{base}/kebutuhan")
    assert page.status_code == 200 and "Modul yang perlu dipesan" in page.text
    for csv_name in ("kompetensi.csv", "pelatihan.csv", "modul.csv"):
        assert f'href="{base}/kebutuhan/{csv_name}"' in page.text
    assert page.text.count("<section") == 3 and page.text.count('<th scope="col">') == 14

    members = unit_members(pw, pw.parent)
    comp = pw.world.view.competency
    expected = na.competency_needs(comp.loc[comp[c.NIP].isin(members)])
    response = client.get(f"{base}/kebutuhan/kompetensi.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["Kode kompetensi"] for r in rows] == expected[c.COMPETENCY_ID].tolist()
    assert [int(r["Pegawai dengan kesenjangan"]) for r in rows] == expected[na.N_GAP].tolist()

    book = load_workbook(io.BytesIO(client.get(f"{base}/kebutuhan.xlsx").content))
    assert book.sheetnames == ["Kompetensi", "Pelatihan", "Modul dipesan"]
    header = [cell.value for cell in book["Kompetensi"][1]]
    assert header[:2] == ["Kode kompetensi", "Kompetensi"]
    assert book["Kompetensi"].max_row == len(expected) + 1

    # people served per course, on a unit nobody has reviewed: exactly the model's plans
    other = pw.other_unit()
    book = load_workbook(io.BytesIO(client.get(f"/halaman/unit/{other}/kebutuhan.xlsx").content))
    served = {row[0]: row[5] for row in book["Pelatihan"].iter_rows(min_row=2, values_only=True)}
    state = pw.world.state()
    counts: dict[str, int] = {}
    for nip in unit_members(pw, other):
        for course in {s["course_id"] for s in state.cached_plan(nip)["training_path"]}:
            counts[course] = counts.get(course, 0) + 1
    assert served == counts
    assert client.get(f"{base}/kebutuhan/nope.csv").status_code == 404


def test_approved_plans_export(client, pw):
    sign_in(client, pw.keys["leaf"])
    nip = unit_members(pw, pw.leaf)[5]
    page = _plan(client, nip).text
    assert _decide(client, nip, page, decision="approved").status_code == 303
    steps = step_courses(_plan(client, nip).text)
    base = f"/halaman/unit/{pw.leaf}"
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"{base}/disetujui.csv").content.decode("utf-8-sig")))
    )
    mine = [r for r in rows if r["NIP"] == nip]
    assert [r["Kode pelatihan"] for r in mine] == steps
    assert {r["NIP"] for r in rows} <= {r.nip for r in _approved_records(pw)}
    book = load_workbook(io.BytesIO(client.get(f"{base}/disetujui.xlsx").content))
    sheet = book["Rencana disetujui"]
    nips = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert isinstance(nips[0], str) and nips.count(nip) == len(steps)  # NIPs stay text


def _approved_records(pw: PagesWorld) -> list[PlanReviewRecord]:
    with open_database(pw.settings.resolved_database_url) as sessions, sessions() as s:
        return list(
            s.scalars(select(PlanReviewRecord).where(PlanReviewRecord.decision == "approved"))
        )


# --- pure parts: 9-box ----------------------------------------------------------------------------


def _boxes_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    # (nip, skp mean, skp latest, current level, required level) -> expected box
    people = [
        ("a", 2.0, 2.0, 1.0, 2.0),  # kinerja 2 (low), potensi .5 (low) -> 1
        ("b", 4.0, 4.0, 1.0, 2.0),  # middle, low -> 2
        ("c", 5.0, 5.0, 1.0, 2.0),  # high, low -> 4
        ("d", 3.0, 3.0, 2.0, 2.0),  # low, middle (1.0) -> 3
        ("e", 4.0, 4.0, 2.0, 2.0),  # middle, middle -> 5
        ("f", np.nan, 5.0, 2.0, 2.0),  # latest only: high, middle -> 7
        ("g", 3.4, 3.4, 3.0, 2.0),  # low, high (1.5) -> 6
        ("h", 4.49, 4.49, 3.0, 2.0),  # middle, high -> 8
        ("i", 4.5, 4.5, 2.2, 2.0),  # high (cut-off inclusive), high (1.1) -> 9
        ("j", np.nan, np.nan, 3.0, 2.0),  # no SKP -> not placed
        ("k", 4.0, 4.0, np.nan, 2.0),  # never assessed -> not placed
    ]
    employees = pd.DataFrame(
        {
            c.NIP: [p[0] for p in people],
            SKP_MEAN_LAST3: [p[1] for p in people],
            SKP_LATEST: [p[2] for p in people],
        }
    )
    competency = pd.DataFrame(
        {
            c.NIP: [p[0] for p in people] + ["a"],
            c.COMPETENCY_ID: ["K1"] * len(people) + ["K2"],
            CURRENT_LEVEL: [p[3] for p in people] + [5.0],
            c.REQUIRED_LEVEL: [p[4] for p in people] + [np.nan],
            REQUIRED: [True] * len(people) + [False],  # not required: ignored
        }
    )
    return employees, competency


def test_nine_box_on_known_data():
    employees, competency = _boxes_frame()
    boxes = talent_boxes(employees, competency, BoxCuts())
    got = {n: None if pd.isna(b) else int(b) for n, b in zip(boxes[c.NIP], boxes[BOX], strict=True)}
    assert got == {
        "a": 1, "b": 2, "c": 4, "d": 3, "e": 5, "f": 7, "g": 6, "h": 8, "i": 9, "j": None,
        "k": None,
    }  # fmt: skip
    assert box_counts(boxes) == {b: 1 for b in range(1, 10)}
    assert box_members(boxes)[9] == ["i"]
    stricter = talent_boxes(employees, competency, BoxCuts(kinerja=(3.5, 4.8)))
    assert stricter.set_index(c.NIP).loc["i", BOX] == 8


def test_every_box_has_a_follow_up_in_both_languages():
    assert sorted(ADVICE) == list(range(1, 10))
    for box, advice in ADVICE.items():
        assert BOX_GRID[advice.potensi_band][advice.kinerja_band] == box
        assert advice.follow_up_id and advice.follow_up_en
    assert "promosi" in ADVICE[9].follow_up_id.lower() or "dipromosikan" in ADVICE[9].follow_up_id
    assert ADVICE[1].follow_up_id == "Diproses sesuai ketentuan peraturan perundang-undangan."
    with pytest.raises(ValueError):
        BoxCuts(kinerja=(4.0, 3.0))
    with pytest.raises(ValueError):
        PagesSettings(potensi_cuts=(1.2, 0.9))


# --- pure parts: training-needs analysis ----------------------------------------------------------


def _needs_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    competency = pd.DataFrame(
        {
            c.NIP: ["A", "A", "A", "B", "B", "C", "C"],
            c.COMPETENCY_ID: ["K1", "K2", "K3", "K1", "K2", "K1", "K4"],
            CURRENT_LEVEL: [2.0, np.nan, 3.0, 1.0, 2.0, 3.5, 2.0],
            c.REQUIRED_LEVEL: [3.0, 2.0, 3.0, 3.0, 2.0, 4.0, np.nan],
            GAP: [1.0, 1.0, 0.0, 2.0, 0.0, 0.5, 0.0],
            REQUIRED: [True, True, True, True, True, True, False],
        }
    )
    bands = pd.DataFrame(
        {
            c.COURSE_ID: ["C1", "C2", "C3"],
            c.COMPETENCY_ID: ["K1", "K1", "K2"],
            c.MIN_LEVEL: [1, 2, 2],
            c.TARGET_LEVEL: [2, 3, 3],
        }
    )
    return competency, bands


def test_competency_needs_on_known_data():
    competency, _ = _needs_frames()
    needs = na.competency_needs(competency)
    assert needs[c.COMPETENCY_ID].tolist() == ["K1", "K2", "K3"]
    k1 = needs.iloc[0]
    assert (k1[na.N_REQUIRED], k1[na.N_GAP], k1[na.N_UNASSESSED]) == (3, 3, 0)
    assert k1[na.TOTAL_GAP] == pytest.approx(3.5) and k1[na.MEAN_GAP] == pytest.approx(3.5 / 3)
    k2 = needs.iloc[1]
    assert (k2[na.N_REQUIRED], k2[na.N_GAP], k2[na.N_UNASSESSED]) == (2, 1, 1)
    assert k2[na.SHARE_GAP] == pytest.approx(0.5)
    k3 = needs.iloc[2]
    assert (k3[na.N_GAP], k3[na.MEAN_GAP], k3[na.TOTAL_GAP]) == (0, 0.0, 0.0)


def test_uncovered_gaps_and_modules_on_known_data():
    competency, bands = _needs_frames()
    gaps = na.uncovered_gaps(competency, bands).set_index([c.NIP, c.COMPETENCY_ID])
    assert gaps.loc[("A", "K1"), na.COVERED]  # 2 -> 3 by C2
    assert gaps.loc[("B", "K1"), na.COVERED]  # 1 -> 2 by C1, then 2 -> 3 by C2
    assert gaps.loc[("B", "K1"), na.REACHED_LEVEL] == 3.0
    assert not gaps.loc[("A", "K2"), na.COVERED]  # unassessed: starts at 1, C3 needs 2
    assert gaps.loc[("A", "K2"), na.START_LEVEL] == 1.0
    assert not gaps.loc[("C", "K1"), na.COVERED]  # nothing goes beyond level 3
    modules = na.modules_to_commission(na.uncovered_gaps(competency, bands))
    assert modules[
        [c.COMPETENCY_ID, na.FROM_LEVEL, na.TO_LEVEL, na.N_EMPLOYEES]
    ].values.tolist() == [
        ["K1", 3, 4, 1],
        ["K2", 1, 2, 1],
    ]
    assert modules[na.HAS_ACTIVE_COURSE].tolist() == [True, True]
    none = na.modules_to_commission(na.uncovered_gaps(competency, bands.iloc[:0]))
    assert set(none[c.COMPETENCY_ID]) == {"K1", "K2"} and not none[na.HAS_ACTIVE_COURSE].any()


def test_reachable_level_chains_bands():
    assert na.reachable_level(1.0, [(2, 3), (1, 2), (3, 5)]) == 5.0
    assert na.reachable_level(1.0, [(3, 4)]) == 1.0
    assert na.reachable_level(2.6, [(3, 4)]) == 4.0  # within half a level of the entry
    assert na.reachable_level(2.6, [(3, 4)], tolerance=0.0) == 2.6


def test_course_reach_counts_people():
    def step(course: str, hours: int) -> dict:
        return {c.COURSE_ID: course, "title": course, c.HOURS_JP: hours, "competency_ids": ["K1"]}

    reach = na.course_reach({"A": [step("C1", 2), step("C2", 4)], "B": [step("C2", 4)], "C": []})
    assert reach[[c.COURSE_ID, na.N_EMPLOYEES, na.TOTAL_JP]].values.tolist() == [
        ["C2", 2, 8],
        ["C1", 1, 2],
    ]
    assert len(na.course_reach({})) == 0


# --- pure parts: plans, overview, exports, chart, i18n --------------------------------------------


def _review(decision: str, changes: dict | None = None, i: int = 0) -> ReviewEntry:
    return ReviewEntry(
        i,
        f"r{i}",
        "k",
        "manager",
        "n",
        decision,
        "",
        changes,
        "1",
        datetime(2025, 1, 1 + i, tzinfo=UTC),
    )


def test_apply_changes_in_order():
    steps = [{"order": i + 1, c.COURSE_ID: cid, c.HOURS_JP: 4} for i, cid in enumerate("ABC")]
    catalog = {"X": {c.COURSE_ID: "X", c.TITLE: "Course X", c.HOURS_JP: 8, "competency_ids": []}}
    reviews = [
        _review("changed", {"remove_course_ids": ["A"], "add_course_ids": ["X"]}, 0),
        _review("approved", None, 1),
        _review("changed", {"remove_course_ids": ["X"], "add_course_ids": ["A", "B"]}, 2),
    ]
    path = apply_changes(steps, reviews, catalog.get)
    assert [s[c.COURSE_ID] for s in path] == ["B", "C", "A"]
    assert [s["order"] for s in path] == [1, 2, 3]
    assert path[2]["added_by_manager"] and path[2]["title"] == "A"  # unknown to the catalog
    assert steps[0][c.COURSE_ID] == "A" and steps[0]["order"] == 1  # input untouched
    assert plan_status(reviews) == "changed" and plan_status([]) == "new"
    reordered = apply_changes(
        steps, [_review("changed", {"course_order": ["C", "A"]})], catalog.get
    )
    assert [s[c.COURSE_ID] for s in reordered] == ["C", "A", "B"]


def test_requested_order_from_the_position_fields():
    form = FormData(
        [("position_course", "A"), ("position", "3"), ("position_course", "B"),
         ("position", "1"), ("position_course", "C"), ("position", "2")]
    )  # fmt: skip
    assert requested_order(form, ["A", "B", "C"], [], ["X"]) == ["B", "C", "A", "X"]
    assert requested_order(form, ["A", "B", "C"], ["B"], []) == ["C", "A"]
    same = FormData([("position_course", "A"), ("position", "1"), ("position_course", "B")])
    assert requested_order(same, ["A", "B"], [], []) is None  # unchanged: no order stored
    for bad in ("nan", "inf", "-inf", "NaN", "1e999", "0", "abc"):
        odd = FormData([("position_course", "A"), ("position", bad), ("position_course", "B"),
                        ("position", "1")])  # fmt: skip
        with pytest.raises(FormProblem):
            requested_order(odd, ["A", "B"], [], [])
    cleared = FormData([("position_course", "A"), ("position", " "), ("position_course", "B"),
                        ("position", "1")])  # fmt: skip
    assert requested_order(cleared, ["A", "B"], [], []) == ["B", "A"]
    addable = {"X"}.__contains__
    changes = requested_changes(FormData([("remove", "A"), ("add", "X")]), ["A"], addable)
    assert changes is not None
    assert (changes.remove_course_ids, changes.add_course_ids) == (["A"], ["X"])
    assert requested_changes(FormData([("add", "")]), ["A"], addable) is None


def _row(nip: str, name: str, **values: object) -> MemberRow:
    base = MemberRow(
        nip=nip, name=name, unit_id="U", unit_name="U", position="", gaps=(), max_gap=0.0,
        n_gaps=0, jp_year=0.0, behind=True, planned_jp=0, risk=None, risk_high=False,
        status="new", box=None, kinerja=None, potensi=None,
    )  # fmt: skip
    return replace(base, **values)


def test_overview_sorting_puts_missing_values_last():
    rows = [
        _row("1", "Budi", risk=0.2),
        _row("2", "adi", risk=None),
        _row("3", "Citra", risk=0.7, risk_high=True),
    ]
    desc = sort_rows(rows, OverviewQuery.from_params({"sort": "risk"}))
    assert [r.nip for r in desc] == ["3", "1", "2"]
    asc = sort_rows(rows, OverviewQuery.from_params({"sort": "risk", "dir": "asc"}))
    assert [r.nip for r in asc] == ["1", "3", "2"]
    by_name = sort_rows(rows, OverviewQuery.from_params({"sort": "name"}))
    assert [r.name for r in by_name] == ["adi", "Budi", "Citra"]
    high = filter_rows(rows, OverviewQuery.from_params({"risk": "high"}))
    assert [r.nip for r in high] == ["3"]
    page = paginate(rows, 5, 2)
    assert (page.number, page.count, [r.nip for r in page.rows]) == (2, 2, ["3"])
    query = OverviewQuery.from_params({"box": "3", "behind": "1", "page": "x"})
    assert query.params() == {"box": 3, "behind": "1"}


def test_exports_guard_formulas_and_keep_text():
    assert safe_text("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_text("-1") == "'-1"
    assert safe_text("Budi") == "Budi" and safe_text(-1) == -1
    for sneaky in ("\n=1+1", " =1+1", "\r\n@SUM(A1)", "\u3000+1", "\uff1d1+1", "\t-2"):
        assert safe_text(sneaky) == "'" + sneaky, repr(sneaky)
    assert safe_text(" Budi") == " Budi"
    frame = pd.DataFrame({"nip": ["198503122010011001"], "note": ["=1+1"], "jp": [8]})
    text = csv_bytes(frame).decode("utf-8-sig")
    assert text.splitlines() == ["nip,note,jp", "198503122010011001,'=1+1,8"]
    sheet = load_workbook(io.BytesIO(xlsx_bytes({"S": frame})))["S"]
    assert [cell.value for cell in sheet[2]] == ["198503122010011001", "'=1+1", 8]
    assert sheet["B2"].data_type == "s"


def test_competency_chart_is_valid_escaped_svg():
    bars = [
        CompetencyBar("K1", "Kerja <Sama>", 2.5, 3.0),
        CompetencyBar("K2", "Integritas", None, 2.0),
    ]
    svg = competency_chart(
        bars, title="Grafik", current_label="saat ini", required_label="syarat",
        unassessed_label="belum diases",
    )  # fmt: skip
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g")
    assert len(groups) == 2 and groups[0].get("class") == "bar short"
    assert "Kerja &lt;Sama&gt;" in svg and "saat ini 2,5" in svg and "belum diases" in svg
    assert len(root.findall(f".//{ns}rect[@class='current']")) == 1  # unassessed: no bar


def test_every_message_exists_in_both_languages():
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", path.read_text()))
    used = {key for key in used if not key.endswith("_")}  # prefixes, expanded below
    prefixes = {
        "status_": ("new", "approved", "rejected", "changed"),
        "saved_": ("approved", "rejected", "changed"),
        "sort_": tuple(SORTS),
        "mode_": c.COURSE_MODES,
        "sheet_": (*NEEDS_TABLES, "approved"),
    }
    for prefix, values in prefixes.items():
        used |= {prefix + v for v in values}
    used |= {f"band_{axis}_{i}" for axis in ("potensi", "kinerja") for i in range(3)}
    used |= {f"role_{r}" for r in ("manager", "hr_system", "analyst")}
    for path in Path(TEMPLATES.parent / "pages").glob("*.py"):
        used |= set(re.findall(r'"(error_[a-z_]+)"', path.read_text()))
    missing = sorted(used - set(MESSAGES))
    assert not missing, missing
    for key, (text_id, text_en) in MESSAGES.items():
        assert text_id and text_en, key
        fields = set(re.findall(r"{(\w+)}", text_id))
        assert fields == set(re.findall(r"{(\w+)}", text_en)), key
    assert translate("box_n", "en", n=3) == "Box 3" and translate("box_n", "xx", n=3) == "Kotak 3"
    assert (
        format_number(1234.5, "id", 1) == "1.234,5" and format_number(1234.5, "en", 1) == "1,234.5"
    )
    t = Translator("id")
    assert t.percent(0.256) == "26%" and t.level(2.4) == "2,4" and t.level(None) == "–"
    assert t.datetime(datetime(2025, 3, 1, 2, 30, tzinfo=UTC)) == "1 Mar 2025 09:30 WIB"


def test_bare_address_leads_to_the_sign_in(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/halaman/"
