"""Helpers shared by the tests and benchmarks that talk to a running server over HTTP."""

from __future__ import annotations

import json
import urllib.request


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
