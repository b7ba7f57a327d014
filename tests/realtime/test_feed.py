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

from tests.conftest import DEMO_END
from tests.support import post_event as post_json


class FeedClient:
    """A real python-socketio client recording what it receives."""

    def __init__(self, base: str, auth: dict | None = None) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.hello: queue.Queue = queue.Queue()
        self.batches: queue.Queue = queue.Queue()
        self.refused: queue.Queue = queue.Queue()
        self.sio.on("hello", self.hello.put)
        self.sio.on("feed", self.batches.put)
        self.sio.on("refused", self.refused.put)
        self.watching: queue.Queue = queue.Queue()
        self.sio.on("watching", self.watching.put)
        self.sio.connect(base, transports=["websocket"], wait_timeout=10, auth=auth)
        hello = self.hello.get(timeout=10)
        self.upto, self.room, self.pid = hello["upto"], hello["room"], hello["pid"]

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
def api_key(new_api_key) -> str:
    return new_api_key("app")


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


def token_of(header: dict[str, str]) -> str:
    return header["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def clients(bearer: Callable[[str], dict]) -> Iterator[Callable[..., FeedClient]]:
    """``clients(url, auth=None, user="operator")``: a signed-in Socket.IO client."""
    made: list[FeedClient] = []

    def make(base: str, auth: dict | None = None, user: str = "operator") -> FeedClient:
        made.append(FeedClient(base, {**(auth or {}), "token": token_of(bearer(user))}))
        return made[-1]

    yield make
    for client in made:
        client.close()


def post_event(base: str, key: str, spot: tuple[float, float], n: int = 0) -> int:
    """POST a report near ``spot`` (shifted ``n`` x 10 m east); returns the case id."""
    body = {
        "channel": "app",
        "external_id": f"RT-{uuid.uuid4().hex}",
        "category": "E0101",
        "severity": 3,
        "lon": spot[0] + 0.0001 * (n % 20),
        "lat": spot[1],
        "reported_at": (DEMO_END + timedelta(days=90, minutes=n)).isoformat(),
    }
    return post_json(base, key, body)


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


def get_feed(url: str, header: dict[str, str]) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=header), timeout=10) as r:
        return json.load(r)


def test_http_catch_up_returns_what_a_page_missed(
    live_url: str, api_key: str, spot: tuple, demo_engine: Engine, bearer
) -> None:
    with demo_engine.connect() as conn:
        since = conn.execute(text("SELECT coalesce(max(seq), 0) FROM case_feed")).scalar()
    posted = [post_event(live_url, api_key, spot, n) for n in range(40, 42)]
    header = bearer("leader")
    body = get_feed(f"{live_url}/live/feed?since={since}", header)
    got = [e["case"]["id"] for e in body["entries"] if e["kind"] == "new"]
    assert got == posted
    assert body["after"] == since and body["upto"] >= since + 2
    for bad in ("-1", "abc", ""):
        with pytest.raises(urllib.error.HTTPError) as info:
            get_feed(f"{live_url}/live/feed?since={bad}", header)
        info.value.close()
        assert info.value.code == 400


def _street_spots(engine: Engine) -> list[tuple[int, tuple[float, float]]]:
    """Two streets and a point inside each (a grid's label point)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT DISTINCT ON (street_id) street_id, ST_X(label_point), ST_Y(label_point)
                FROM areas WHERE level = 'grid' ORDER BY street_id, code LIMIT 2
                """
            )
        ).all()
    return [(r[0], (r[1], r[2])) for r in rows]


def test_clients_receive_only_the_area_they_watch(
    live_url: str,
    clients,
    api_key: str,
    demo_engine: Engine,
) -> None:
    (street_a, spot_a), (street_b, spot_b) = _street_spots(demo_engine)
    on_a = clients(live_url, {"area_id": street_a})
    on_b = clients(live_url)
    on_b.sio.emit("watch", {"area_id": street_b})
    assert on_b.watching.get(timeout=5)["room"] == f"area:{street_b}"
    assert on_a.room == f"area:{street_a}"
    everyone = clients(live_url)
    in_a = post_event(live_url, api_key, spot_a, 60)
    in_b = post_event(live_url, api_key, spot_b, 61)
    assert set(everyone.case_ids({in_a, in_b})) >= {in_a, in_b}
    got_a = on_a.case_ids({in_a, in_b}, timeout=2)
    got_b = on_b.case_ids({in_a, in_b}, timeout=2)
    assert in_a in got_a and in_b not in got_a
    assert in_b in got_b and in_a not in got_b


def test_watching_an_unknown_area_is_refused(live_url: str, clients) -> None:
    client = clients(live_url)
    for bad in ({"area_id": "street"}, {"area_id": 10**9}, {"area_id": -3}, "all"):
        client.sio.emit("watch", bad)
        assert client.refused.get(timeout=5)["event"] == "watch"
    refused_at_connect = clients(live_url, {"area_id": 10**9})
    assert refused_at_connect.refused.get(timeout=5)["reason"] == f"no area {10**9} to watch"
    assert refused_at_connect.room == "all"


def test_connection_without_a_session_is_refused(live_url: str, bearer) -> None:
    for auth in (None, {"token": "forged"}, {"token": 42}):
        client = socketio.Client(reconnection=False)
        reasons: list = []
        client.on("connect_error", reasons.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(live_url, transports=["websocket"], wait_timeout=10, auth=auth)
        assert "unauthenticated" in str(reasons)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{live_url}/live/feed?since=0", timeout=10)
    info.value.close()
    assert info.value.code == 401


def test_supervisor_hears_only_their_street_and_cannot_join_another(
    live_url: str, clients, api_key: str, demo_engine: Engine, demo_users: dict, bearer
) -> None:
    own = demo_users["supervisor"].area_id
    (street_a, spot_a), (street_b, spot_b) = _street_spots(demo_engine)
    assert own == street_a  # the demo supervisor has the first street
    supervisor = clients(live_url, user="supervisor")
    assert supervisor.room == f"area:{own}"  # narrowed at connect, without asking
    supervisor.sio.emit("watch", {"area_id": street_b})
    assert "outside your area" in supervisor.refused.get(timeout=5)["reason"]
    supervisor.sio.emit("watch", {"area_id": None})  # "everything" is their street
    assert supervisor.watching.get(timeout=5)["room"] == f"area:{own}"
    sneaky = clients(live_url, {"area_id": street_b}, user="supervisor")
    assert "outside your area" in sneaky.refused.get(timeout=5)["reason"]
    assert sneaky.room == f"area:{own}"
    before = supervisor.upto
    in_a = post_event(live_url, api_key, spot_a, 80)
    in_b = post_event(live_url, api_key, spot_b, 81)
    got = supervisor.case_ids({in_a, in_b}, timeout=3)
    assert in_a in got and in_b not in got
    assert in_b not in sneaky.case_ids({in_a, in_b}, timeout=2)
    # Catching up over either path gives only their street too.
    supervisor.sio.emit("catch_up", {"since": before})
    assert in_b not in supervisor.case_ids({in_a, in_b}, timeout=2)
    body = get_feed(f"{live_url}/live/feed?since={before}", bearer("supervisor"))
    caught = {e["case"]["id"] for e in body["entries"]}
    assert in_a in caught and in_b not in caught
