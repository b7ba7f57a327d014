"""Helpers shared by the tests and benchmarks that talk to a running server over HTTP."""

from __future__ import annotations

import json
import urllib.request

from geo_data.users import UserInfo


def post_event(base: str, key: str, body: dict, expect: tuple[int, ...] = (201,)) -> int:
    """POST one event to ``base``'s ingest API with ``key``; returns the case id."""
    request = urllib.request.Request(
        base + "/api/v1/events",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in expect, response.status
        return json.load(response)["case_id"]


def viewer(role: str = "operator", area: tuple[int, str, str] | None = None) -> UserInfo:
    """A signed-in user as pages see one (no database row needed): ``area`` is
    (id, code, level) for a supervisor."""
    area_id, code, level = area or (None, None, None)
    return UserInfo(0, f"test-{role}", f"Test {role}", role, area_id, code, code, code, level, True)


OPERATOR = viewer()
