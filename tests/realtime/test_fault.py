"""The fault test, short: events streamed with retries while the app process is killed
and PostgreSQL restarted; every case stored once, every Socket.IO client gap-free.

The full run (10,000 events, 3 kills) is ``bench/fault_test.py``; this one uses its own
dedicated cluster (``<state dir>/pg-fault-test``, port 55435 or
``GRIDWATCH_FAULT_TEST_DB_PORT``), since it stops and starts the server: never the
shared test cluster. Only the demo city's areas are loaded: they are all that locating
an event needs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.fault_test import FaultConfig, print_report, run_fault_test

FAULT_TEST_PORT = int(os.environ.get("GRIDWATCH_FAULT_TEST_DB_PORT", "55435"))

pytestmark = pytest.mark.db


def test_ingest_and_live_feed_survive_a_killed_app_and_a_restarted_database(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    config = FaultConfig(
        events=600,
        kills=1,
        db_restarts=1,
        clients=3,
        posters=4,
        demo="areas",
        cluster_dir="pg-fault-test",
        db_port=FAULT_TEST_PORT,
        database="gridwatch_fault_test",
        browser=False,
        log_dir=tmp_path,
        say=lines.append,
    )
    started = time.monotonic()
    result = run_fault_test(config)
    print_report(result, lines.append)
    report = "\n".join(lines)
    print(report)
    failures = result.failures()
    assert not failures, "\n".join(failures) + f"\n\n{report}"
    figures = result.figures
    assert figures["cases"] == 600 and figures["distinct_external_ids"] == 600
    assert figures["kills"] == 1 and figures["db_restarts"] == 1
    assert figures["seen_503"] > 0 or figures["faults"][0]["post_status"] == 503
    assert all(client["missing"] == 0 for client in figures["clients"])
    assert time.monotonic() - started < 120
