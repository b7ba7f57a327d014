"""Hostile text in reports is stored verbatim and shown as text on every page (issue 7).

Reports whose description and reporter name carry HTML, script, SQL, control
characters, right-to-left and emoji text are posted through the ingest API, merged into
one another and noted on; the database must hold exactly what was sent, and the map
(hover, ticker, case panel) and the supervisor console (row, case panel) must show it
as literal text: no element made from it, no script run (``window.__pwned`` stays
undefined), no request for ``<img src=x>`` (the harness fails the test on any console
error, which a broken image would log).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine, text

from app import ids

from .helpers import marker_xy, screenshot, wait_for_dash_idle

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
SQL = "'; DROP TABLE cases; --"
CONTROL = "tab\there, bell\x07, escape\x1b[31m, unit\x1f, del\x7f, nel\x85 end"
RTL = "\u202eRTL override\u202c שלום עליכם مرحبا بكم"
EMOJI = "😀🚒🧯 👨‍👩‍👧"
DESCRIPTION = " | ".join([SCRIPT, IMG, SQL, CONTROL, RTL, EMOJI, "<b>not bold</b> &amp; &lt;"])
REPORTER = IMG  # 38 characters: the name may hold 64
MERGED_DESCRIPTION = "<script>window.__pwned=3</script><iframe src=javascript:alert(4)> 重复"
NOTE = '<svg onload="window.__pwned=5"></svg> 立案 \' OR 1=1 --'
CATEGORY = "E9101"
PWNED = "typeof window.__pwned"


def _send(base: str, path: str, body: dict, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.load(refused)


def _event(lon: float, lat: float, **fields: object) -> dict:
    return {
        "channel": "app",
        "external_id": f"INERT-{uuid.uuid4().hex}",
        "category": CATEGORY,
        "severity": 2,
        "lon": lon,
        "lat": lat,
        "reported_at": datetime.now(UTC).isoformat(),
    } | fields


def _spot(engine: Engine) -> tuple[float, float, str]:
    """A grid's label point no other browser test reports at, and the grid's code."""
    with engine.connect() as conn:
        x, y, code = conn.execute(
            text(
                "SELECT ST_X(label_point), ST_Y(label_point), code FROM areas"
                " WHERE level = 'grid' ORDER BY code LIMIT 1 OFFSET 1234"
            )
        ).one()
    return x, y, code


def _assert_literal(panel: Locator) -> None:
    """The case panel shows every hostile string as text and built nothing from it."""
    description = panel.locator(".gw-case-desc")
    assert description.evaluate("e => e.textContent") == DESCRIPTION  # exact, verbatim
    assert description.evaluate("e => e.children.length") == 0  # one text node, no tags
    shown = panel.inner_text()
    for literal in (SCRIPT, IMG, SQL, "שלום עליכם", "مرحبا", EMOJI, "<b>not bold</b>"):
        assert literal in shown, literal
    expect(panel.locator(".gw-facts")).to_contain_text(REPORTER)  # the operator sees names
    merged = panel.locator(".gw-merged .gw-t-note")
    expect(merged).to_have_count(1)
    assert merged.evaluate("e => e.textContent") == MERGED_DESCRIPTION
    note = panel.locator(".gw-timeline .gw-t-note", has_text="立案")
    assert note.evaluate("e => e.textContent") == NOTE
    for made in ("script", "img", "iframe", "svg[onload]", "b", "[onerror]"):
        assert panel.locator(made).count() == 0, f"the panel holds a <{made}> element"
    assert panel.page.evaluate(PWNED) == "undefined"


def test_hostile_text_is_stored_verbatim_and_shown_as_text(
    page: Page, live_server: str, demo_engine: Engine, new_api_key, bearer
) -> None:
    key = {"X-API-Key": new_api_key("app")}
    lon, lat, grid = _spot(demo_engine)

    # NUL cannot be stored (PostgreSQL text): refused with the field named, not a 5xx.
    for field in ("description", "reporter_name"):
        status, answer = _send(
            live_server, "/api/v1/events", _event(lon, lat, **{field: "a\u0000b"}), key
        )
        assert status == 422, answer
        assert [d["field"] for d in answer["details"]] == [field]

    status, first = _send(
        live_server,
        "/api/v1/events",
        _event(lon, lat, description=DESCRIPTION, reporter_name=REPORTER),
        key,
    )
    assert (status, first["status"]) == (201, "reported"), first
    case_id = first["case_id"]
    status, second = _send(
        live_server,
        "/api/v1/events",
        _event(lon + 0.0001, lat, description=MERGED_DESCRIPTION, reporter_name=SQL),
        key,
    )
    assert (status, second.get("duplicate_of")) == (201, case_id), second
    with demo_engine.connect() as conn:
        version = conn.execute(
            text("SELECT version FROM cases WHERE id = :i"), {"i": case_id}
        ).scalar_one()
    status, accepted = _send(
        live_server,
        f"/api/v1/cases/{case_id}/actions/accept",
        {"version": version, "note": NOTE},
        bearer("operator"),
    )
    assert status == 200, accepted

    # Stored exactly as sent (and the cases table is still there).
    with demo_engine.connect() as conn:
        rows = dict(
            conn.execute(
                text(
                    "SELECT id, json_build_array(description, reporter_name) FROM cases"
                    " WHERE id = ANY(:ids)"
                ),
                {"ids": [case_id, second["case_id"]]},
            ).all()
        )
        note = conn.execute(
            text("SELECT note FROM case_events WHERE case_id = :i AND action = 'accept'"),
            {"i": case_id},
        ).scalar_one()
    assert rows[case_id] == [DESCRIPTION, REPORTER]
    assert rows[second["case_id"]] == [MERGED_DESCRIPTION, SQL]
    assert note == NOTE

    # The map at the case's grid: hover, ticker, then the case panel by clicking.
    page.goto(f"{live_server}/map?area={grid}")
    wait_for_dash_idle(page)
    xy = marker_xy(page, case_id)
    page.mouse.move(xy[0], xy[1])
    expect(page.locator(".gw-live-hover")).to_contain_text(f"#{case_id}", timeout=10_000)
    assert page.locator(".gw-live-hover img, .gw-live-hover script").count() == 0
    assert page.locator(f"#{ids.LIVE_TICKER} img, #{ids.LIVE_TICKER} script").count() == 0
    page.mouse.click(xy[0], xy[1])
    panel = page.locator(f"#{ids.CASE_PANEL}")
    expect(panel).to_have_class("gw-case-panel gw-case-open", timeout=15_000)
    expect(panel).to_contain_text(f"#{case_id}")
    wait_for_dash_idle(page)
    _assert_literal(panel)
    screenshot(page, "inert-text-map")

    # The supervisor console: the case's row (no description column), then its panel.
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    page.goto(f"{live_server}/ops?status=all&category={CATEGORY}&from={today}&to={today}")
    wait_for_dash_idle(page)
    row = page.locator(f"#{ids.OPS_GRID} .ag-center-cols-container .ag-row[row-id='{case_id}']")
    expect(row).to_be_visible(timeout=15_000)
    assert row.locator("img, script").count() == 0
    row.locator("[col-id=category]").click()
    panel = page.locator(f"#{ids.CASE_PANEL}")
    expect(panel).to_have_class("gw-case-panel gw-case-open", timeout=15_000)
    expect(panel).to_contain_text(f"#{case_id}")
    wait_for_dash_idle(page)
    _assert_literal(panel)
    screenshot(page, "inert-text-ops")

    # The summary shows no report text, but it lists today's cases: still nothing runs.
    page.goto(f"{live_server}/summary")
    wait_for_dash_idle(page)
    assert page.evaluate(PWNED) == "undefined"
