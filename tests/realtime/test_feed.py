"""Live feed end to end: HTTP POST -> commit -> NOTIFY -> listener -> Socket.IO client."""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import socketio
from sqlalchemy import Engine, text

from geo_data.actors import system_actor
from geo_data.api_keys import create_key
from tests.conftest import DEMO_END


class FeedClient:
    """A real python-socketio client recording what it receives."""

    def __init__(self, base: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.hello: queue.Queue = queue.Queue()
        self.batches: queue.Queue = queue.Queue()
        self.refused: queue.Queue = queue.Queue()
        self.sio.on("hello", self.hello.put)
        self.sio.on("feed", self.batches.put)
        self.sio.on("refused", self.refused.put)
        self.sio.connect(base, transports=["websocket"], wait_timeout=10)
        self.upto = self.hello.get(timeout=10)["upto"]

    def case_ids(self, want: set[int], timeout: float = 5.0) -> list[int]:
        """Case ids of 'new' entries received until ``want`` are all seen (or timeout)."""
        seen: list[int] = []
        deadline = time.monotonic() + timeout
        while not want <= set(seen) and time.monotonic() < deadline:
            try:
                batch = self.batches.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.upto = max(self.upto, batch["upto"])
            seen += [e["case"]["id"] for e in batch["entries"] if e["kind"] == "new"]
        return seen

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture(scope="module")
def api_key(demo_engine: Engine) -> str:
    with demo_engine.begin() as conn:
        return create_key(conn, f"feed-{uuid.uuid4().hex[:8]}", "app", system_actor(conn))


@pytest.fixture(scope="module")
def spot(demo_engine: Engine) -> tuple[float, float]:
    with demo_engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
                    " ORDER BY code LIMIT 1 OFFSET 100"
                )
            ).one()
        )


@pytest.fixture
def clients() -> Iterator[Callable[[str], FeedClient]]:
    made: list[FeedClient] = []

    def make(base: str) -> FeedClient:
        made.append(FeedClient(base))
        return made[-1]

    yield make
    for client in made:
        client.close()


def post_event(base: str, key: str, spot: tuple[float, float], n: int = 0) -> int:
    body = {
        "channel": "app",
        "external_id": f"RT-{uuid.uuid4().hex}",
        "category": "E0101",
        "severity": 3,
        "lon": spot[0] + 0.0001 * (n % 20),
        "lat": spot[1],
        "reported_at": (DEMO_END + timedelta(days=90, minutes=n)).isoformat(),
    }
    request = urllib.request.Request(
        base + "/api/v1/events",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.load(response)["case_id"]


def test_posted_event_reaches_a_connected_client(
    live_url: str,
    clients,
    api_key: str,
    spot: tuple,
) -> None:
    client = clients(live_url)
    started = time.monotonic()
    case_id = post_event(live_url, api_key, spot)
    assert case_id in client.case_ids({case_id})
    assert time.monotonic() - started < 3


def test_reconnecting_client_catches_up_without_gaps(
    live_url: str,
    clients,
    api_key: str,
    spot: tuple,
    demo_engine: Engine,
) -> None:
    first = clients(live_url)
    since = first.upto
    first.close()
    missed = [post_event(live_url, api_key, spot, n) for n in range(1, 4)]
    again = clients(live_url)
    again.sio.emit("catch_up", {"since": since})
    got = again.case_ids(set(missed))
    assert [c for c in got if c in missed] == missed  # all three, in commit order
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text("SELECT count(*) FROM case_feed WHERE seq > :s AND seq <= :u"),
            {"s": since, "u": again.upto},
        ).scalar()
    received = len(got)
    assert received <= expected  # 'new' entries only; the rest are report counts


def test_two_app_processes_both_deliver(
    server_factory,
    live_url: str,
    clients,
    api_key: str,
    spot: tuple,
) -> None:
    other_url = server_factory()
    on_first, on_second = clients(live_url), clients(other_url)
    case_id = post_event(other_url, api_key, spot, 7)
    assert case_id in on_first.case_ids({case_id})
    assert case_id in on_second.case_ids({case_id})


def test_bad_catch_up_message_is_refused(live_url: str, clients) -> None:
    client = clients(live_url)
    for bad in ({"since": "yesterday"}, {"since": -1}, "all of it", {"since": True}):
        client.sio.emit("catch_up", bad)
        assert "since must be an integer" in client.refused.get(timeout=5)["reason"]


def test_many_concurrent_posts_each_reach_the_client_once(
    live_url: str,
    clients,
    api_key: str,
    spot: tuple,
) -> None:
    client = clients(live_url)
    ids: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for n in range(5):
            case_id = post_event(live_url, api_key, spot, 20 + 5 * k + n)
            with lock:
                ids.append(case_id)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    got = client.case_ids(set(ids), timeout=10)
    assert sorted(c for c in got if c in ids) == sorted(ids)  # each exactly once


def test_http_catch_up_returns_what_a_page_missed(
    live_url: str, api_key: str, spot: tuple, demo_engine: Engine
) -> None:
    with demo_engine.connect() as conn:
        since = conn.execute(text("SELECT coalesce(max(seq), 0) FROM case_feed")).scalar()
    posted = [post_event(live_url, api_key, spot, n) for n in range(40, 42)]
    with urllib.request.urlopen(f"{live_url}/live/feed?since={since}", timeout=10) as r:
        body = json.load(r)
    got = [e["case"]["id"] for e in body["entries"] if e["kind"] == "new"]
    assert got == posted
    assert body["after"] == since and body["upto"] >= since + 2
    for bad in ("-1", "abc", ""):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{live_url}/live/feed?since={bad}", timeout=10)
        info.value.close()
        assert info.value.code == 400
