"""The simulator through the real API: valid events stored, invalid ones refused."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, text

from etl.feeds.simulator import Simulator
from geo_data.actors import system_actor
from geo_data.api_keys import create_key
from geo_data.jurisdiction import jurisdiction_outline
from geo_data.models import CHANNELS


def test_simulated_feed_is_stored_and_invalid_events_refused(
    live_url: str, demo_engine: Engine
) -> None:
    with demo_engine.begin() as conn:
        actor = system_actor(conn)
        tag = uuid.uuid4().hex[:6]
        keys = {c: create_key(conn, f"sim-{c}-{tag}", c, actor, 100_000) for c in CHANNELS}
        outline = jurisdiction_outline(conn)
        before = conn.execute(text("SELECT count(*) FROM cases")).scalar()
    sim = Simulator(live_url, keys, outline, seed=7, invalid_share=0.25)
    tally = sim.run(rate=200, duration=3)
    sent = sum(tally.answers.values())
    assert sent > 50
    assert tally.invalid_sent > 5
    assert tally.invalid_refused == tally.invalid_sent  # every malformed event got a 4xx
    assert tally.answers[500] == 0 and tally.answers[0] == 0
    valid = sent - tally.invalid_sent
    assert tally.answers[201] + tally.answers[200] == valid
    with demo_engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM cases")).scalar()
        merged = conn.execute(
            text("SELECT count(*) FROM cases WHERE external_id LIKE 'SIM-%' AND status = 'merged'")
        ).scalar()
    assert after - before == tally.answers[201]
    assert merged >= 1  # repeat reports through another channel were linked
