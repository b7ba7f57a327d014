"""The case workflow: every status change is one action by an actor, checked here.

The digital city-management cycle: reported -> accepted -> dispatched -> in_progress ->
handled -> verified -> closed, with reassign (another worker sent while on the way or on
site), rejected, escalated (community -> street ->
district), reopened (the resident is not satisfied) and merged (a duplicate). Each
action checks the actor's role and area, the case's state and the version the actor
saw (optimistic locking: a stale version is a conflict, never a lost update), then
writes the change, its audit event and its feed entry in the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_data.actors import Actor
from geo_data.case_store import append_feed
from geo_data.catalogue import sla_hours
from geo_data.models import CLOSED_STATUSES, HANDLING_LEVELS

OPEN_STATUSES = ("reported", "accepted", "dispatched", "in_progress", "handled", "verified",
                 "escalated", "reopened")  # fmt: skip
DISPATCHERS = ("operator", "supervisor")
SYSTEM_ACTIONS = ("escalate",)  # what the system actor may do unattended (SLA escalation)


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    needs_note: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("accept", ("reported",), "accepted"),
        Transition("reject", ("reported", "accepted"), "rejected", needs_note=True),
        Transition("dispatch", ("accepted", "escalated", "reopened"), "dispatched"),
        Transition("reassign", ("dispatched", "in_progress"), "dispatched"),
        Transition("start", ("dispatched",), "in_progress"),
        Transition("handle", ("dispatched", "in_progress"), "handled", needs_note=True),
        Transition("verify", ("handled",), "verified"),
        Transition("close", ("verified",), "closed"),
        Transition("reopen", ("handled", "verified", "closed"), "reopened", needs_note=True),
        Transition(
            "escalate",
            ("accepted", "dispatched", "in_progress", "reopened"),
            "escalated",
            needs_note=True,
        ),
        Transition("merge", OPEN_STATUSES, "merged"),
    )
}


class WorkflowError(Exception):
    """An action refused; ``code`` says why in a word an API maps to a status."""

    code = "refused"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class UnknownActionError(WorkflowError):
    code = "unknown_action"


class CaseNotFoundError(WorkflowError):
    code = "not_found"


class ForbiddenError(WorkflowError):
    code = "forbidden"


class IllegalTransitionError(WorkflowError):
    code = "illegal_transition"


class ConflictError(WorkflowError):
    """The case changed since the actor saw it (stale version)."""

    code = "conflict"


class MissingInputError(WorkflowError):
    code = "missing_input"


def allowed_actions(status: str, role: str) -> list[str]:
    """The actions a user in ``role`` may take on a case in ``status``."""
    if role not in DISPATCHERS:
        return []
    return [a for a, t in TRANSITIONS.items() if status in t.sources]


@dataclass(frozen=True)
class ActionResult:
    case_id: int
    action: str
    from_status: str
    status: str
    version: int


def act(
    conn: Connection,
    case_id: int,
    action: str,
    actor: Actor,
    *,
    version: int,
    note: str = "",
    worker_id: int | None = None,
    duplicate_of: int | None = None,
    confirmed_by_resident: bool = False,
    confirmation_channel: str | None = None,
) -> ActionResult:
    """Take ``action`` on case ``case_id`` as ``actor``, who saw it at ``version``.

    Raises a :class:`WorkflowError` subclass, writing nothing, when the action is
    unknown, the role or area does not allow it, the case is not in a state the action
    starts from (the message lists the allowed actions), the version is stale, or an
    input it needs is missing (a note, the worker to dispatch, the original of a
    duplicate, the resident's confirmation or an override reason to close).
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise UnknownActionError(
            f"unknown action {action!r}; one of {', '.join(TRANSITIONS)}", action=action
        )
    if actor.is_system:
        if action not in SYSTEM_ACTIONS:
            raise ForbiddenError(f"the system may not {action} cases", role=actor.role)
    elif actor.role not in DISPATCHERS:
        raise ForbiddenError(f"a {actor.role} may not act on cases", role=actor.role)
    case = conn.execute(
        text(
            "SELECT id, status, version, handling_level, assignee_id, district_id, street_id,"
            " community_id, grid_id, category_code, severity, due_at FROM cases WHERE id = :id"
        ),
        {"id": case_id},
    ).first()
    if case is None:
        raise CaseNotFoundError(f"no case {case_id}", case_id=case_id)
    if actor.area_id is not None and actor.area_id not in (
        case.district_id,
        case.street_id,
        case.community_id,
        case.grid_id,
    ):
        raise ForbiddenError(f"case {case_id} lies outside your area", case_id=case_id)
    if case.version != version:
        raise ConflictError(
            f"case {case_id} changed since you saw it (version {version}, now "
            f"{case.version}, status {case.status})",
            version=case.version,
            status=case.status,
        )
    if case.status not in transition.sources:
        allowed = allowed_actions(case.status, actor.role)
        raise IllegalTransitionError(
            f"cannot {action} a case that is {case.status}; allowed: "
            f"{', '.join(allowed) or 'none'}",
            status=case.status,
            allowed=allowed,
        )
    note = note.strip()
    if transition.needs_note and not note:
        raise MissingInputError(f"{action} needs a note saying why", field="note")

    sets = ["status = :target", "version = version + 1", "updated_at = now()"]
    params: dict[str, Any] = {"id": case_id, "version": version, "target": transition.target}
    data: dict[str, Any] = {}
    if action == "accept":
        sets.append("accepted_at = now()")
    elif action in ("dispatch", "reassign"):
        if worker_id is None:
            raise MissingInputError(f"{action} needs the worker to send", field="worker_id")
        if action == "reassign" and worker_id == case.assignee_id:
            raise MissingInputError("reassign needs another worker", field="worker_id")
        worker = conn.execute(
            text("SELECT id, status FROM workers WHERE id = :w"), {"w": worker_id}
        ).first()
        if worker is None or worker.status == "off_duty":
            raise MissingInputError(f"worker {worker_id} is unknown or off duty", field="worker_id")
        sets += ["assignee_id = :worker", "dispatched_at = now()"]
        params["worker"] = worker_id
        data["worker_id"] = worker_id
        if action == "reassign":
            data["previous_worker_id"] = case.assignee_id
    elif action == "handle":
        sets.append("handled_at = now()")
    elif action in ("close", "reject"):
        sets.append("closed_at = now()")
        if action == "close":
            if not confirmed_by_resident and not note:
                raise MissingInputError(
                    "closing needs the resident's confirmation or an override reason",
                    field="confirmed_by_resident",
                )
            if confirmed_by_resident:
                sets.append("satisfied = true")
                data["confirmation"] = {"channel": confirmation_channel or "unknown"}
            else:
                data["override"] = True
    elif action == "reopen":
        # The resident was not satisfied: it counts against the handler who closed it.
        sets += ["satisfied = false", "closed_at = NULL"]
        data["handler_id"] = case.assignee_id
    elif action == "escalate":
        level = HANDLING_LEVELS.index(case.handling_level)
        if level + 1 >= len(HANDLING_LEVELS):
            raise IllegalTransitionError(
                f"case {case_id} is handled at the {case.handling_level} already: the top",
                status=case.status,
            )
        # The new level gets its own time: the catalogue's for this category and severity.
        sets += ["handling_level = :level", "due_at = now() + make_interval(secs => :sla)"]
        params["level"] = HANDLING_LEVELS[level + 1]
        params["sla"] = 3600 * sla_hours(case.category_code, case.severity)
        data["handling_level"] = params["level"]
    elif action == "merge":
        original = conn.execute(
            text("SELECT id, status FROM cases WHERE id = :o AND id <> :id"),
            {"o": duplicate_of, "id": case_id},
        ).first()
        if duplicate_of is None or original is None or original.status in CLOSED_STATUSES:
            raise MissingInputError(
                "merge needs an open original case (not this one)", field="duplicate_of"
            )
        sets += ["duplicate_of_id = :original", "closed_at = now()"]
        params["original"] = duplicate_of
        data["duplicate_of"] = duplicate_of

    updated = conn.execute(
        text(
            f"UPDATE cases SET {', '.join(sets)} WHERE id = :id AND version = :version"
            " RETURNING version, due_at"
        ),
        params,
    ).first()
    if updated is None:  # someone committed in between: the version moved on
        raise ConflictError(f"case {case_id} changed while you acted", case_id=case_id)
    if updated.due_at != case.due_at:
        data["due_at"] = {"from": case.due_at.isoformat(), "to": updated.due_at.isoformat()}
    _worker_follows(conn, action, case, worker_id)
    if action == "merge":
        conn.execute(
            text(
                "UPDATE cases SET report_count = report_count + 1, version = version + 1,"
                " updated_at = now() WHERE id = :o"
            ),
            {"o": duplicate_of},
        )
    conn.execute(
        text(
            "INSERT INTO case_events (case_id, actor_id, actor_name, action, from_status,"
            " to_status, note, data) VALUES (:id, :actor_id, :actor_name, :action, :from_s,"
            " :to_s, :note, CAST(:data AS jsonb))"
        ),
        {
            "id": case_id,
            "actor_id": actor.id,
            "actor_name": actor.label,
            "action": action,
            "from_s": case.status,
            "to_s": transition.target,
            "note": note,
            "data": _json(data),
        },
    )
    append_feed(conn, [case_id, duplicate_of] if action == "merge" else [case_id], action)
    return ActionResult(case_id, action, case.status, transition.target, updated.version)


def _worker_follows(conn: Connection, action: str, case: Any, worker_id: int | None) -> None:
    """Assigning sends the worker en route, starting puts them on site; handling (or
    closing out) frees them."""
    if action in ("dispatch", "reassign"):
        if action == "reassign" and case.assignee_id is not None:
            conn.execute(
                text(
                    "UPDATE workers SET status = 'available' WHERE id = :w AND status <> 'off_duty'"
                ),
                {"w": case.assignee_id},
            )
        conn.execute(text("UPDATE workers SET status = 'en_route' WHERE id = :w"), {"w": worker_id})
    elif action == "start" and case.assignee_id is not None:
        conn.execute(
            text("UPDATE workers SET status = 'on_site' WHERE id = :w AND status <> 'off_duty'"),
            {"w": case.assignee_id},
        )
    elif action in ("handle", "reject", "merge") and case.assignee_id is not None:
        conn.execute(
            text("UPDATE workers SET status = 'available' WHERE id = :w AND status <> 'off_duty'"),
            {"w": case.assignee_id},
        )


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
