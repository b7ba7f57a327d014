"""A simulated case-worker: the demo's cases are worked through the whole cycle.

The simulator (:mod:`etl.feeds.simulator`) only reports; this module accepts, dispatches,
starts, handles, verifies and closes them, with some rejections, escalations,
reassignments, merges and reopenings, and leaves a few alone until they are overdue, so
the demo's wall, map and summary show a city being worked rather than a growing pile.
It acts through the same case-store actions the screens use
(:func:`geo_data.workflow.act`, each in its own transaction), as the demo's operator.

Two parts:

- :class:`LifecyclePolicy` (pure, no database): given a case's facts and ``now``, the
  next action and when it is due. Each wait is a real-life duration (minutes plus a
  share of the category's SLA hours from the catalogue, so structures and construction
  take long and rubbish and emergencies short), drawn from a random generator seeded by
  the policy's seed, the case's id and its state (status and time of its last change):
  a decision is fixed while the case waits in a state and drawn afresh in the next.
- :class:`CaseWorker` (the driver): every tick it reads the cases it may work in one
  query (:func:`geo_data.lifecycle_queries.workable_cases`), asks the policy, and takes
  the due actions, a bounded number per tick. Someone else acting first (a human on a
  screen) is a conflict: logged at debug level, and the case is re-read next tick. A
  database error costs a tick, never the thread (it retries with back-off).

Time compression. The demo posts about ``rate`` reports a second (0.5 by default), far
more than a real district (about 110 a day), so real-life durations are divided by one
factor, the *speed*. By Little's law the open backlog is the arrival rate times the
mean time a case stays open: ``B = lambda * E[T]``. ``lambda`` is the rate of reports
that open a case (the feed's invalid and repeat reports do not: the API refuses the
first and merges the second on arrival). A case left alone waits for its real deadline
(hours, not compressed: that is what makes it overdue on the wall), the others for their
compressed real-life times, so ``E[T] = X / speed + Y`` with X the mean real time of the
compressed paths and Y the left-alone share times its mean real wait. The speed that
keeps the backlog at its starting size ``B`` is therefore
``speed = lambda * X / (B - lambda * Y)`` (:func:`speed_for`); X and Y come from the
policy's own branch shares and step times averaged over the feed's category and
severity mix (an absorbing Markov chain per category and severity, solved exactly). At
the demo's defaults (0.5 reports/s, about 300 open) it is about 120: a real hour passes
in half a minute, a case typically closes within minutes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from geo_data.actors import Actor
from geo_data.catalogue import load_categories, sla_hours
from geo_data.dispatch import nearest_workers
from geo_data.lifecycle_queries import (
    WorkableCase,
    merge_original,
    simulated_operator,
    workable_cases,
)
from geo_data.models import HANDLING_LEVELS
from geo_data.workflow import OPEN_STATUSES, TRANSITIONS, ConflictError, WorkflowError, act

log = logging.getLogger(__name__)

HOUR_S = 3600.0
# Step times are lognormal with mean 1 around their mean, cut at this many means (so the
# longest wait, and the window in which a closed case may still be reopened, is bounded).
MAX_FACTOR = 4.0
# A fixed time of minutes shrinks for short deadlines: a 15-minute fire is not accepted
# after the 3 minutes a broken street light may wait.
FIXED_MINUTES_FULL_AT_SLA_H = 4.0
# Left alone: only cases due within this many hours (severity 1-2 mostly), so they go
# overdue within an hour or two; they resume this many real minutes past their deadline,
# before the SLA scheduler's grace (60 minutes) escalates them.
ALONE_MAX_SLA_H = 2.0
ALONE_OVERDUE_MIN = (10.0, 50.0)
# A resident calls back to say they are not satisfied this many real hours after closing.
REOPEN_DELAY_H = (0.5, 3.0)
# The feed's reports that never open a case: refused (invalid) and merged on arrival.
FEED_INVALID_SHARE = 0.05
FEED_DUPLICATE_SHARE = 0.06
MIN_BACKLOG = 50
SLA_GRACE = timedelta(minutes=60)  # GRIDWATCH_SLA_GRACE_MINUTES' default


@dataclass(frozen=True)
class Step:
    """The mean real-life time an action takes after the last change: fixed minutes plus
    a share of the case's SLA hours; ``sigma`` spreads it (lognormal)."""

    minutes: float
    sla_share: float
    sigma: float = 0.5

    def mean_hours(self, sla_h: float) -> float:
        fixed = self.minutes / 60 * min(1.0, sla_h / FIXED_MINUTES_FULL_AT_SLA_H)
        return fixed + self.sla_share * sla_h


STEPS: dict[str, Step] = {
    "accept": Step(3, 0.01, 0.6),
    "reject": Step(20, 0.02),
    "merge": Step(10, 0.01),
    "dispatch": Step(5, 0.03, 0.7),
    "reassign": Step(15, 0.02),
    "start": Step(10, 0.02),
    "handle": Step(0, 0.35),  # the work itself: by category and severity, via the SLA
    "escalate": Step(30, 0.05),
    "verify": Step(10, 0.05),
    "close": Step(15, 0.05),  # the resident's confirmation
}


@dataclass(frozen=True)
class Shares:
    """How often each side branch is taken where it can be."""

    reject: float = 0.03  # of reports
    merge: float = 0.015  # of reports (the driver finds the original, or accepts)
    escalate_accepted: float = 0.015
    escalate_in_progress: float = 0.015
    reassign: float = 0.03  # of dispatched cases, when the workflow has "reassign"
    reopen: float = 0.03  # of closed cases
    alone: float = 0.03  # of all cases, taken from those due within ALONE_MAX_SLA_H


REJECT_NOTES = (
    "不属于城市管理范围 (outside city management)",
    "现场核实无此问题 (nothing found on site)",
    "上报信息不全，无法定位 (cannot be located)",
)
ESCALATE_NOTES = (
    "超出社区处置能力，提请上级协调 (beyond this level's means)",
    "涉及多个部门，需上级统筹 (several departments involved)",
)
HANDLE_NOTES = (
    "已处置完毕，现场恢复正常 (handled; back to normal)",
    "已协调责任单位处理完毕 (the responsible unit has dealt with it)",
    "已清理整改到位 (cleared and put right)",
)
REASSIGN_NOTE = "原处置人员另有紧急任务，改派 (first worker called away)"
REOPEN_NOTE = "居民不满意，要求重新处理 (resident not satisfied)"
CONFIRMATION_CHANNELS = {"hotline": 0.5, "wechat": 0.25, "app": 0.15, "walk_in": 0.1}


@dataclass(frozen=True)
class Decision:
    """The next action on a case and when it is due; ``fallback`` is taken instead when
    the driver cannot (no original to merge into, no other worker to reassign to)."""

    action: str
    at: datetime
    note: str = ""
    confirmed_by_resident: bool = False
    confirmation_channel: str | None = None
    fallback: str | None = None
    alone: bool = False  # waiting past its deadline on purpose


@dataclass(frozen=True)
class Shift:
    """When the case-worker came on, and the share of the cases it found then (those it
    may hold) that it leaves where they are for a while."""

    started_at: datetime
    held_share: float = 0.0


def _holdable(case: WorkableCase, started_at: datetime) -> bool:
    """Whether a case found at the start of a shift may be left where it is: open, and
    not one the SLA scheduler escalates at once (being worked, at a level below the top,
    past its deadline and the grace time)."""
    if case.status not in OPEN_STATUSES:
        return False
    return not (
        case.status in TRANSITIONS["escalate"].sources
        and case.handling_level != HANDLING_LEVELS[-1]
        and case.due_at < started_at - SLA_GRACE
    )


def _handover_delay(rng: random.Random, any_alone: bool) -> timedelta:
    """How long a case held at the start of a shift waits: the remaining wait of a
    left-alone case seen at a random moment (a kind drawn in proportion to its share times
    its wait, then a uniform point of that wait), so that the held cases leave as fast as
    the worker's own left-alone ones arrive to replace them."""
    if not any_alone:
        return timedelta(0)
    kinds = _alone_waits()
    hours = rng.choices([h for h, _ in kinds], weights=[w for _, w in kinds])[0]
    return timedelta(hours=rng.uniform(0, hours))


@cache
def _alone_waits() -> tuple[tuple[float, float], ...]:
    """(real hours a left-alone case of a kind stays open, its share times those hours)."""
    overdue_h = sum(ALONE_OVERDUE_MIN) / 2 / 60
    return tuple(
        (sla_hours(code, sev) + overdue_h, share * (sla_hours(code, sev) + overdue_h))
        for code, sev, share in _mix()
        if sla_hours(code, sev) <= ALONE_MAX_SLA_H
    )


def case_rng(seed: int, case: WorkableCase, *, salt: str = "") -> random.Random:
    """The random generator of one case in one state: its status since its last change.

    Not its version: a report merged into a case bumps the version without changing
    what the case waits for, and must not draw its waits afresh. ``salt`` names another,
    independent generator for the same state.
    """
    key = f"{seed}:{case.id}:{case.status}:{case.changed_at.timestamp():.6f}:{salt}"
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _factor(rng: random.Random, sigma: float) -> float:
    """A lognormal factor of mean 1, cut at MAX_FACTOR."""
    return min(rng.lognormvariate(-sigma * sigma / 2, sigma), MAX_FACTOR)


@cache
def _mix() -> tuple[tuple[str, int, float], ...]:
    """(category, severity, share) of the feed's reports, as the simulator draws them."""
    cats = load_categories()
    total = sum(c.demo_weight for c in cats)
    return tuple(
        (c.code, severity, c.demo_weight / total * weight)
        for c in cats
        for severity, weight in enumerate(c.severity_weights, start=1)
        if weight > 0
    )


@cache
def _alone_eligible_share() -> float:
    return sum(share for code, sev, share in _mix() if sla_hours(code, sev) <= ALONE_MAX_SLA_H)


class LifecyclePolicy:
    """Decides, without a database, what happens next to a case and when.

    ``speed`` divides every real-life duration except a left-alone case's wait for its
    deadline. ``actions`` are the workflow's actions (``reassign`` is used only when
    present). ``posts_per_second``, the feed's rate, sizes the hand-over at the start of a
    shift (:meth:`shift`).
    """

    def __init__(
        self,
        speed: float,
        *,
        seed: int = 0,
        shares: Shares | None = None,
        actions: frozenset[str] | None = None,
        posts_per_second: float | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = speed
        self.seed = seed
        self.shares = shares or Shares()
        self.actions = frozenset(TRANSITIONS) if actions is None else actions
        self.posts_per_second = posts_per_second
        eligible = _alone_eligible_share()
        self._alone_given_eligible = min(1.0, self.shares.alone / eligible) if eligible else 0.0

    # -- what the policy decides ------------------------------------------------------------

    def alone_probability(self, category_code: str, severity: int) -> float:
        """The chance that an accepted case of this kind is left alone past its deadline."""
        if sla_hours(category_code, severity) > ALONE_MAX_SLA_H:
            return 0.0
        return self._alone_given_eligible

    def reopen_window(self) -> timedelta:
        """How long after closing a case may still be reopened by this policy."""
        return timedelta(seconds=REOPEN_DELAY_H[1] * HOUR_S / self.speed)

    def shift(self, started_at: datetime, found: Iterable[WorkableCase]) -> Shift:
        """The shift of a case-worker coming on at ``started_at`` to the cases ``found``.

        Its own left-alone cases take hours to build up to their steady number (the feed's
        rate times their mean real wait), so the first hours would run short of open
        cases. Instead it leaves that many of the cases it finds where they are (those
        the SLA scheduler will not escalate at once), and picks them up one by one as
        its own left-alone ones take their place (:func:`_handover_delay`). Without the
        feed's rate there is no hand-over.
        """
        if self.posts_per_second is None:
            return Shift(started_at)
        holdable = sum(_holdable(case, started_at) for case in found)
        steady = open_arrivals(self.posts_per_second) * self.mean_open_seconds()[1]
        return Shift(started_at, min(1.0, steady / holdable) if holdable else 0.0)

    def decide(self, case: WorkableCase, shift: Shift | None = None) -> Decision | None:
        """The next action on ``case`` and when it is due, or None when nothing more will
        happen to it (rejected, merged, closed for good).

        With a ``shift``, a case unchanged since it began waits from the shift's start:
        the worker works what it finds at its own pace (a share of it later still, see
        :meth:`shift`), so the generated year's old cases are not all taken at once.
        """
        if shift is not None and case.changed_at < shift.started_at:
            fresh = replace(case, changed_at=shift.started_at)
            decision = self.decide(fresh)
            held = case_rng(self.seed, case, salt="held")
            if decision is None or not _holdable(case, shift.started_at):
                return decision
            if held.random() >= shift.held_share:
                return decision
            resume = shift.started_at + _handover_delay(held, self.shares.alone > 0)
            return replace(decision, at=max(decision.at, resume), alone=True)
        rng = case_rng(self.seed, case)
        u = rng.random()
        sla_h = sla_hours(case.category_code, case.severity)
        s = self.shares
        can_escalate = case.handling_level != HANDLING_LEVELS[-1]

        def after(action: str, **kwargs: object) -> Decision:
            step = STEPS[action]
            hours = step.mean_hours(sla_h) * _factor(rng, step.sigma)
            at = case.changed_at + timedelta(seconds=hours * HOUR_S / self.speed)
            return Decision(action, at, **kwargs)  # type: ignore[arg-type]

        match case.status:
            case "reported":
                if u < s.reject:
                    return after("reject", note=rng.choice(REJECT_NOTES))
                if u < s.reject + s.merge:
                    return after(
                        "merge", note="重复上报，合并 (a repeat report)", fallback="accept"
                    )
                return after("accept", note="立案")
            case "accepted":
                if u < self.alone_probability(case.category_code, case.severity):
                    normal = after("dispatch")
                    overdue = timedelta(minutes=rng.uniform(*ALONE_OVERDUE_MIN))
                    return replace(normal, at=max(normal.at, case.due_at + overdue), alone=True)
                if can_escalate and u > 1 - s.escalate_accepted:
                    return after("escalate", note=rng.choice(ESCALATE_NOTES))
                return after("dispatch")
            case "escalated" | "reopened":
                return after("dispatch")
            case "dispatched":
                if "reassign" in self.actions and u < s.reassign:
                    return after("reassign", note=REASSIGN_NOTE, fallback="start")
                return after("start")
            case "in_progress":
                if can_escalate and u < s.escalate_in_progress:
                    return after("escalate", note=rng.choice(ESCALATE_NOTES))
                return after("handle", note=rng.choice(HANDLE_NOTES))
            case "handled":
                return after("verify")
            case "verified":
                channels = list(CONFIRMATION_CHANNELS)
                channel = rng.choices(channels, weights=list(CONFIRMATION_CHANNELS.values()))[0]
                return after(
                    "close",
                    note="居民确认满意 (the resident confirmed)",
                    confirmed_by_resident=True,
                    confirmation_channel=channel,
                )
            case "closed":
                if u >= s.reopen:
                    return None
                hours = rng.uniform(*REOPEN_DELAY_H)
                at = case.changed_at + timedelta(seconds=hours * HOUR_S / self.speed)
                return Decision("reopen", at, note=REOPEN_NOTE)
        return None

    def due(self, case: WorkableCase, now: datetime, shift: Shift | None = None) -> Decision | None:
        """The decision on ``case`` if it is due at ``now``."""
        decision = self.decide(case, shift)
        return decision if decision is not None and decision.at <= now else None

    # -- what that costs in backlog ---------------------------------------------------------

    def real_hours(self, category_code: str, severity: int) -> tuple[float, float]:
        """(X, Y) of one kind of case, in real hours: the mean time it stays open on its
        compressed paths (to be divided by the speed) and on its left-alone path (not)."""
        return _real_hours(
            sla_hours(category_code, severity),
            self.shares,
            "reassign" in self.actions,
            self.alone_probability(category_code, severity),
        )

    def mean_open_seconds(self) -> tuple[float, float]:
        """(X, Y) averaged over the feed's category and severity mix, in real seconds."""
        x = y = 0.0
        for code, severity, share in _mix():
            cx, cy = self.real_hours(code, severity)
            x += share * cx
            y += share * cy
        return x * HOUR_S, y * HOUR_S


def _real_hours(sla_h: float, s: Shares, reassign: bool, alone: float) -> tuple[float, float]:
    """Expected open time from ``reported`` (the absorbing chain of the policy above),
    split into its compressed part X and its left-alone wait Y, in real hours.

    States: reported, accepted, escalated, reopened, dispatched, in_progress, handled,
    verified, closed; T(state) = sum over actions of p(action) * (step + T(target)). The
    time a closed case waits to be reopened is not open time. Escalation is treated as
    possible at every level (at the district it is not: a slight overestimate).
    """
    m = {action: step.mean_hours(sla_h) for action, step in STEPS.items()}
    ra = s.reassign if reassign else 0.0
    states = ("R", "A", "E", "O", "D", "P", "H", "V", "C")
    index = {name: i for i, name in enumerate(states)}
    # Accepted, compressed: the left-alone path leaves the chain at "accepted".
    moves: dict[str, list[tuple[float, float, str | None]]] = {
        "R": [
            (s.reject, m["reject"], None),
            (s.merge, m["merge"], None),
            (1 - s.reject - s.merge, m["accept"], "A"),
        ],
        "A": [
            (s.escalate_accepted, m["escalate"], "E"),
            (1 - s.escalate_accepted, m["dispatch"], "D"),
        ],
        "E": [(1.0, m["dispatch"], "D")],
        "O": [(1.0, m["dispatch"], "D")],
        "D": [(ra, m["reassign"], "D"), (1 - ra, m["start"], "P")],
        "P": [
            (s.escalate_in_progress, m["escalate"], "E"),
            (1 - s.escalate_in_progress, m["handle"], "H"),
        ],
        "H": [(1.0, m["verify"], "V")],
        "V": [(1.0, m["close"], "C")],
        "C": [(s.reopen, 0.0, "O")],
    }
    a = np.eye(len(states))
    b = np.zeros(len(states))
    for state, options in moves.items():
        i = index[state]
        for p, hours, target in options:
            b[i] += p * hours
            if target is not None:
                a[i, index[target]] -= p
    t = dict(zip(states, np.linalg.solve(a, b), strict=True))
    reach_accepted = 1 - s.reject - s.merge
    normal = s.reject * m["reject"] + s.merge * m["merge"] + reach_accepted * m["accept"]
    # Left alone: open from the report until its deadline plus the overdue wait (real),
    # then dispatched like any other (compressed).
    x = normal + reach_accepted * ((1 - alone) * t["A"] + alone * (m["dispatch"] + t["D"]))
    y = reach_accepted * alone * (sla_h + sum(ALONE_OVERDUE_MIN) / 2 / 60)
    return float(x), float(y)


def open_arrivals(posts_per_second: float) -> float:
    """Cases opened per second by a feed posting ``posts_per_second`` reports."""
    return posts_per_second * (1 - FEED_INVALID_SHARE) * (1 - FEED_DUPLICATE_SHARE)


def speed_for(policy: LifecyclePolicy, posts_per_second: float, backlog: int) -> float:
    """The speed at which ``policy`` keeps ``backlog`` cases open under a feed posting
    ``posts_per_second`` reports (Little's law; see the module's docstring).

    Raises ValueError when the left-alone cases alone would keep more than half of that
    backlog open (then no speed can hold it; lower ``Shares.alone``).
    """
    lam = open_arrivals(posts_per_second)
    x, y = policy.mean_open_seconds()
    backlog = max(backlog, MIN_BACKLOG)
    room = backlog - lam * y
    if room < backlog / 2:
        raise ValueError(
            f"left-alone cases would keep {lam * y:.0f} of {backlog} cases open at "
            f"{posts_per_second:g} reports/s; lower the left-alone share"
        )
    return lam * x / room


def demo_policy(
    posts_per_second: float,
    backlog: int,
    *,
    seed: int = 0,
    speed: float | None = None,
    actions: frozenset[str] | None = None,
) -> LifecyclePolicy:
    """The demo's policy: ``speed`` when given, else the one holding ``backlog`` open at
    ``posts_per_second``; at rates so high that the left-alone cases would keep more than
    a third of the backlog open by themselves, fewer are left alone."""
    shares = Shares()
    if posts_per_second <= 0 and speed is None:
        speed = 1.0  # no feed: nothing to keep pace with, real time
    lam = open_arrivals(posts_per_second)
    _, y = LifecyclePolicy(1.0, shares=shares, actions=actions).mean_open_seconds()
    budget = max(backlog, MIN_BACKLOG) / 3
    if lam * y > budget:
        shares = replace(shares, alone=shares.alone * budget / (lam * y))
    policy = LifecyclePolicy(1.0, seed=seed, shares=shares, actions=actions)
    speed = speed or speed_for(policy, posts_per_second, backlog)
    return LifecyclePolicy(
        speed, seed=seed, shares=shares, actions=actions, posts_per_second=posts_per_second
    )


# -- the driver ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the case-worker did, by action and outcome."""

    actions: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    ticks: int = 0

    def summary(self) -> str:
        done = ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items())) or "nothing yet"
        other = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()) if k != "done")
        return done + (f"; {other}" if other else "")


class CaseWorker:
    """Works the cases of ``bind`` (an engine: one transaction per action; or a
    connection, for tests: one savepoint per action) as ``policy`` says.

    A report is merged into the nearest open original of its category within
    ``merge_radius_m``. ``area_id`` narrows the cases it works to one area; the actor is
    the demo's operator
    (:func:`geo_data.lifecycle_queries.simulated_operator`) unless given. The ``shift``
    starts at the first tick (:meth:`LifecyclePolicy.shift`) unless given.
    """

    def __init__(
        self,
        bind: Engine | Connection,
        policy: LifecyclePolicy,
        *,
        actor: Actor | None = None,
        area_id: int | None = None,
        max_actions: int = 25,
        interval: float = 1.0,
        max_backoff: float = 60.0,
        hold_seconds: float = 30.0,
        merge_radius_m: float = 1000.0,
        shift: Shift | None = None,
    ) -> None:
        self.bind = bind
        self.policy = policy
        self.actor = actor
        self.area_id = area_id
        self.max_actions = max_actions
        self.interval = interval
        self.max_backoff = max_backoff
        self.hold = timedelta(seconds=hold_seconds)
        self.merge_radius_m = merge_radius_m
        self.shift = shift
        self.tally = Tally()
        self._waiting: dict[int, datetime] = {}  # case id -> not before (nothing to act with)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if isinstance(self.bind, Engine):
            with self.bind.begin() as conn:
                yield conn
        else:
            with self.bind.begin_nested():
                yield self.bind

    # -- one tick ---------------------------------------------------------------------------

    def plan(self, now: datetime | None = None) -> list[tuple[WorkableCase, Decision]]:
        """The due decisions at ``now`` (default: the clock), earliest first, at most
        ``max_actions``."""
        now = now or datetime.now(UTC)
        since = now - self.policy.reopen_window() - timedelta(seconds=self.interval)
        with self._transaction() as conn:
            cases = workable_cases(conn, closed_since=since, area_id=self.area_id)
        if self.shift is None:
            self.shift = self.policy.shift(now, cases)
            log.info(
                "case worker on shift: %d cases found, %.0f%% of those it may hold left a while",
                len(cases),
                100 * self.shift.held_share,
            )
        self._waiting = {k: v for k, v in self._waiting.items() if v > now}
        due = []
        for case in cases:
            if case.id in self._waiting:
                continue
            decision = self.policy.due(case, now, self.shift)
            if decision is not None:
                due.append((case, decision))
        due.sort(key=lambda pair: (pair[1].at, pair[0].id))
        return due[: self.max_actions]

    def tick(self, now: datetime | None = None) -> Counter:
        """Read, decide and take what is due; returns the outcomes of this tick."""
        now = now or datetime.now(UTC)
        outcomes: Counter = Counter()
        for case, decision in self.plan(now):
            outcomes[self.perform(case, decision, now=now)] += 1
        self.tally.ticks += 1
        return outcomes

    def perform(
        self, case: WorkableCase, decision: Decision, *, now: datetime | None = None
    ) -> str:
        """Take ``decision`` on ``case`` in its own transaction; returns the outcome:
        done, conflict (someone acted first), refused, waiting (no worker) or failed.
        A lost connection is raised, for the loop to back off."""
        now = now or datetime.now(UTC)
        try:
            with self._transaction() as conn:
                actor = self._actor(conn)
                action, inputs = self._inputs(conn, case, decision)
                if action is None:
                    outcome = "waiting"
                else:
                    act(conn, case.id, action, actor, version=case.version, **inputs)
                    outcome = "done"
        except ConflictError as exc:
            log.debug("case %s: someone acted first (%s); re-read next tick", case.id, exc)
            outcome = "conflict"
        except WorkflowError as exc:
            log.debug("case %s: %s refused: %s", case.id, decision.action, exc)
            outcome = "refused"
        except OperationalError:
            raise
        except SQLAlchemyError:
            log.warning("case %s: %s failed", case.id, decision.action, exc_info=True)
            outcome = "failed"
        if outcome == "done":
            self.tally.actions[action] += 1
        elif outcome != "conflict":
            self._waiting[case.id] = now + self.hold
        self.tally.outcomes[outcome] += 1
        return outcome

    def _actor(self, conn: Connection) -> Actor:
        if self.actor is None:
            self.actor = simulated_operator(conn)
        return self.actor

    def _inputs(
        self, conn: Connection, case: WorkableCase, decision: Decision
    ) -> tuple[str | None, dict[str, object]]:
        """The action to take and its inputs (the worker to send, the original to merge
        into, the resident's confirmation); no action when there is no worker to send.
        A fallback action goes without the note meant for the first."""
        action = decision.action
        if action == "merge":
            original = merge_original(conn, case.id, radius_m=self.merge_radius_m)
            if original is not None:
                return action, {"note": decision.note, "duplicate_of": original}
            action = decision.fallback or "accept"  # a report of its own after all
        if action == "reassign":
            worker = None
            if "reassign" in TRANSITIONS:
                worker = _nearest_free_worker(conn, case, exclude=case.assignee_id)
            if worker is not None:
                return action, {"note": decision.note, "worker_id": worker}
            action = decision.fallback or "start"
        if action == "dispatch":
            worker = _nearest_free_worker(conn, case, exclude=None)
            if worker is None:
                log.debug("case %s: no worker on duty near it; waiting", case.id)
                return None, {}
            return action, {"note": decision.note, "worker_id": worker}
        if action != decision.action:
            return action, {}
        inputs: dict[str, object] = {"note": decision.note}
        if action == "close":
            inputs["confirmed_by_resident"] = decision.confirmed_by_resident
            inputs["confirmation_channel"] = decision.confirmation_channel
        return action, inputs

    # -- the thread -------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event | None = None,
        duration: float = 0.0,
        *,
        report: Callable[[str], None] | None = None,
    ) -> Tally:
        """Tick every ``interval`` seconds for ``duration`` seconds (0 = until stopped).

        A failed tick (the database gone, say) is logged and retried after a back-off
        that doubles up to ``max_backoff`` seconds and resets after a good tick.
        """
        stop = stop or self._stop
        started = time.monotonic()
        next_report = started + 10
        delay = self.interval
        while not stop.is_set() and (duration <= 0 or time.monotonic() - started < duration):
            try:
                self.tick()
                wait, delay = self.interval, self.interval
            except Exception:
                log.warning("case worker: tick failed; retrying in %gs", delay, exc_info=True)
                self.tally.outcomes["tick failed"] += 1
                wait, delay = delay, min(delay * 2, self.max_backoff)
            if report and time.monotonic() >= next_report:
                report(self.tally.summary())
                next_report += 10
            stop.wait(wait)
        return self.tally

    def start(self) -> threading.Thread:
        """Run in a daemon thread until :meth:`stop`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="case-worker", daemon=True)
            self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _nearest_free_worker(
    conn: Connection, case: WorkableCase, *, exclude: int | None
) -> int | None:
    """The nearest available tier 1-2 worker (other than ``exclude``), else the nearest on
    duty at all (they take it after what they are on)."""
    for statuses in (("available",), ("available", "en_route", "on_site")):
        for worker in nearest_workers(conn, case.id, limit=3, statuses=statuses):
            if worker.id != exclude:
                return worker.id
    return None
