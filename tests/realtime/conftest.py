"""Real app servers (subprocesses) and real Socket.IO clients for the realtime tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``gridwatch serve [extra]`` on a free port against ``url``; returns it once healthy."""
    port = free_port()
    env = os.environ | {
        "GRIDWATCH_DATABASE_URL": url,
        "GRIDWATCH_SECRET_KEY": "test-only",
        "GRIDWATCH_SLA_ENABLED": "false",  # tests escalate on purpose, not by the clock
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from app.cli import main; main(prog_name='gridwatch')",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server never became healthy: {log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def server_factory(
    demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """Start as many app processes as a test needs; all stopped at the end."""
    url = demo_engine.url.render_as_string(hide_password=False)
    procs: list[subprocess.Popen] = []

    def start() -> str:
        log = tmp_path_factory.mktemp("server") / "server.log"
        proc, base = start_server(url, log)
        procs.append(proc)
        return base

    yield start
    for proc in procs:
        stop_server(proc)


@pytest.fixture(scope="session")
def live_url(server_factory: Callable[[], str]) -> str:
    return server_factory()
