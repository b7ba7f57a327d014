"""The app serves its generated glyphs at /glyphs/ to signed-in viewers only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from app.factory import create_app
from app.settings import Settings
from etl import glyphs

pytestmark = pytest.mark.skipif(not glyphs.FONT.is_file(), reason="fonts-noto-cjk not installed")
PATH = "/glyphs/Noto Sans CJK SC Regular/0-255.pbf"


def test_glyphs_are_served_from_the_state_directory_to_a_session(
    settings: Settings,
    demo_engine: Engine,
    bearer: Callable[[str], dict],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    state = tmp_path_factory.mktemp("state")
    glyphs.build(glyphs.glyph_dir(state), only=[0], workers=1)
    app = create_app(settings.model_copy(update={"state_dir": state}), engine=demo_engine)
    client = app.server.test_client()
    assert client.get(PATH).status_code == 401
    answer = client.get(PATH, headers=bearer("leader"))
    assert answer.status_code == 200
    assert answer.content_type == "application/x-protobuf"
    assert answer.data == (glyphs.glyph_dir(state) / glyphs.FONTSTACK / "0-255.pbf").read_bytes()
    answer.close()
    refused = client.get("/glyphs/Noto Sans CJK SC Regular/0-511.pbf", headers=bearer("leader"))
    assert refused.status_code == 404 and refused.get_json()["error"] == "unknown_range"
