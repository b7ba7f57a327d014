"""SLA escalation: cases left overdue at their level climb to the next one by themselves.

A case's deadline (``due_at``) comes from the category catalogue and its severity; when
it passes by more than a grace time while the case is still being worked at community or
street level, the system actor escalates it (community -> street -> district) through
the workflow, which gives it a fresh deadline at the new level, writes the audit event
and announces it on the feed. Rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any
number of app processes may run this at once without escalating a case twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, text

from geo_data.actors import system_actor
from geo_data.case_store import OPEN_SQL
from geo_data.models import HANDLING_LEVELS
from geo_data.workflow import TRANSITIONS, ActionResult, act

log = logging.getLogger(__name__)

ESCALATE = TRANSITIONS["escalate"]

# The partial index ix_cases_open_due serves this: its predicate is OPEN_SQL verbatim.
_OVERDUE_SQL = text(
    f"""
    SELECT id, version, status, handling_level, due_at FROM cases
    WHERE {OPEN_SQL} AND status IN :sources AND handling_level <> :top
      AND due_at < now() - :grace
    ORDER BY due_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
).bindparams(bindparam("sources", expanding=True))


@dataclass(frozen=True)
class OverdueCase:
    """A case past its deadline (and the grace time) at a level below the top."""

    id: int
    version: int
    status: str
    handling_level: str
    due_at: datetime


def overdue_for_escalation(conn: Connection, *, grace: timedelta, limit: int) -> list[OverdueCase]:
    """Up to ``limit`` cases to escalate now, oldest deadline first, locked for this
    transaction; rows another transaction holds are skipped, not waited for."""
    rows = conn.execute(
        _OVERDUE_SQL,
        {
            "sources": list(ESCALATE.sources),
            "top": HANDLING_LEVELS[-1],
            "grace": grace,
            "limit": limit,
        },
    ).all()
    return [OverdueCase(r.id, r.version, r.status, r.handling_level, r.due_at) for r in rows]


def escalate_overdue(conn: Connection, *, grace: timedelta, limit: int) -> list[ActionResult]:
    """Escalate the cases :func:`overdue_for_escalation` finds, as the system actor.

    Each case is escalated under its own savepoint: one that fails (say, a user acted
    on it in between) is logged and skipped, and the others are kept. The caller
    commits.
    """
    cases = overdue_for_escalation(conn, grace=grace, limit=limit)
    if not cases:
        return []
    system = system_actor(conn)
    results: list[ActionResult] = []
    for case in cases:
        note = (
            f"overdue at {case.handling_level} level since "
            f"{case.due_at.isoformat(timespec='minutes')}, escalated automatically"
        )
        try:
            with conn.begin_nested():
                results.append(
                    act(conn, case.id, "escalate", system, version=case.version, note=note)
                )
        except Exception:
            if conn.invalidated:  # the connection is gone: nothing more can be done here
                raise
            log.exception("could not escalate overdue case %s; skipped", case.id)
    return results
