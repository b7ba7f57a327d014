"""The gridwatch CLI end to end: real transactions committed (or not) on a real PostGIS."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from app.cli import main
from geo_data.cluster import Cluster
from tests.conftest import fresh_database

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[104, 30.6], [104.1, 30.6], [104.1, 30.7], [104, 30.7], [104, 30.6]]],
}
STREETS = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "Q1", "level": "district", "name_zh": "区"},
                "geometry": SQUARE,
            },
            {
                "type": "Feature",
                "properties": {
                    "code": "Q1001",
                    "level": "street",
                    "parent_code": "Q1",
                    "name_zh": "街",
                },
                "geometry": SQUARE,
            },
        ],
    }
)


@pytest.fixture(scope="module")
def cli_engine(cluster: Cluster) -> Iterator[Engine]:
    engine = fresh_database(cluster, "gridwatch_cli_test")
    yield engine
    engine.dispose()


@pytest.fixture
def run(cli_engine: Engine):
    env = {"GRIDWATCH_DATABASE_URL": cli_engine.url.render_as_string(hide_password=False)}

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, list(args), env=env, prog_name="gridwatch")
        return result.exit_code, result.output

    return invoke


def test_every_command_has_help(run) -> None:
    for command in (
        [],
        ["db"],
        ["db", "up"],
        ["db", "down"],
        ["db", "status"],
        ["db", "migrate"],
        ["etl"],
        ["etl", "load"],
        ["etl", "demo"],
        ["stats"],
        ["users"],
        ["users", "add"],
        ["users", "list"],
        ["users", "disable"],
        ["serve"],
        ["demo"],
    ):
        code, output = run(*command, "--help")
        assert code == 0, command
        assert "Usage: gridwatch" in output


def test_bad_file_exits_2_with_reason_and_commits_nothing(
    run,
    cli_engine: Engine,
    tmp_path: Path,
) -> None:
    bad = tmp_path / "areas.geojson"
    bad.write_text(STREETS.replace('"parent_code": "Q1"', '"parent_code": "Q9"'))
    code, output = run("etl", "load", "areas", str(bad))
    assert code == 2
    assert "names parent Q9, which is neither in the file nor loaded" in output
    with cli_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM areas")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM data_loads")).scalar() == 0


def test_good_file_is_committed_and_recorded(run, cli_engine: Engine, tmp_path: Path) -> None:
    good = tmp_path / "areas.geojson"
    good.write_text(STREETS)
    code, output = run("etl", "load", "areas", str(good))
    assert code == 0, output
    assert "loaded 2 areas" in output
    code, output = run("stats", "--json")
    figures = json.loads(output)
    assert figures["areas_by_level"]["street"] == 1
    with cli_engine.connect() as conn:
        actor, rows = conn.execute(
            text("SELECT u.username, d.rows FROM data_loads d JOIN users u ON u.id = d.actor_id")
        ).one()
    assert (actor, rows) == ("system", 2)
    # Vacuumed right after the commit (not left to autovacuum), so index-only scans
    # serve the figures at once.
    with cli_engine.connect() as conn:
        vacuumed = conn.execute(
            text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'areas'")
        ).scalar()
    assert vacuumed is not None


def test_unknown_actor_is_refused(run, tmp_path: Path) -> None:
    good = tmp_path / "areas.geojson"
    good.write_text(STREETS)
    code, output = run("etl", "load", "areas", str(good), "--as", "nobody")
    assert code == 2
    assert "no active user named 'nobody'" in output


def test_keys_are_shown_once_listed_without_secret_and_disabled(run) -> None:
    code, output = run("keys", "add", "--name", "gateway-12345", "--channel", "hotline")
    assert code == 0, output
    key = re.search(r"gw_[A-Za-z0-9_-]{20,}", output).group(0)
    code, output = run("keys", "add", "--name", "gateway-12345", "--channel", "web")
    assert code == 2
    assert "exists already" in output
    code, listing = run("keys", "list")
    assert "gateway-12345" in listing and "hotline" in listing and "active" in listing
    assert key not in listing
    assert run("keys", "disable", "gateway-12345")[0] == 0
    assert "disabled" in run("keys", "list")[1]
    code, output = run("keys", "disable", "gateway-12345")
    assert code == 2
    assert "no active key" in output


def test_users_add_list_disable(run, cli_engine: Engine) -> None:
    code, output = run(
        "users", "add", "duty1", "--role", "operator", "--password", "long enough pw"
    )
    assert code == 0 and "added duty1: operator" in output
    code, output = run("users", "add", "duty1", "--role", "leader", "--password", "long enough pw")
    assert code != 0 and "exists already" in output
    code, output = run("users", "add", "sup1", "--role", "supervisor", "--password", "x" * 12)
    assert code != 0 and "needs an area" in output
    code, output = run("users", "add", "weak", "--role", "leader", "--password", "short")
    assert code != 0 and "10 characters" in output
    code, output = run("users", "list")
    assert "duty1" in output and "everywhere" in output and "long enough" not in output
    code, output = run("users", "disable", "duty1")
    assert code == 0 and "sessions have ended" in output
    assert "disabled" in run("users", "list")[1]
    assert run("users", "disable", "nobody")[0] != 0
    with cli_engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE username='duty1'"))
        assert stored.scalar().startswith("scrypt$")
