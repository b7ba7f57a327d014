"""Scale-out: ``gridwatch serve --workers 2`` runs gunicorn processes on one port; an
event ingested through any of them reaches the clients of every one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.realtime.conftest import start_server, stop_server
from tests.realtime.test_feed import FeedClient, token_of
from tests.support import post_event


@pytest.fixture(scope="module")
def two_workers(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    url = demo_engine.url.render_as_string(hide_password=False)
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    proc, base = start_server(url, log, "--workers", "2", "--threads", "32")
    yield base, log
    stop_server(proc)


def test_an_event_reaches_clients_on_every_worker(
    two_workers: tuple[str, Path], bearer: Callable, new_api_key: Callable
) -> None:
    base, log = two_workers
    clients: list[FeedClient] = []
    try:
        # The kernel hands connections to whichever worker accepts first: connect until
        # both processes hold clients.
        for _ in range(40):
            clients.append(FeedClient(base, {"token": token_of(bearer("operator"))}))
            if len({c.pid for c in clients}) >= 2:
                break
        pids = {c.pid for c in clients}
        assert len(pids) >= 2, f"all {len(clients)} clients landed on one worker: {pids}"
        key = new_api_key("app")
        case_id = post_event(
            base,
            key,
            {
                "channel": "app",
                "external_id": f"SO-{uuid.uuid4().hex}",
                "category": "E0101",
                "severity": 2,
                "lon": 104.1,
                "lat": 30.66,
                "reported_at": datetime.now(UTC).isoformat(),
            },
        )
        for client in clients:
            assert case_id in client.case_ids({case_id}, timeout=5), f"worker {client.pid}"
    finally:
        for client in clients:
            client.close()
    assert "Booting worker" in log.read_text()
