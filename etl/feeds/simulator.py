"""A simulated event feed that posts realistic reports through the public API.

Channels, categories (by their real-world frequency), hot spots, the time-of-day
rhythm and repeat reports of one incident through another channel, plus a share of
malformed reports that the API must refuse. It talks HTTP only, like any channel.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import shapely

from geo_data.catalogue import categories_frame

CHANNEL_SHARES = {
    "hotline": 0.35, "web": 0.05, "app": 0.10, "wechat": 0.12,
    "grid_worker": 0.25, "iot_sensor": 0.05, "video_ai": 0.05, "walk_in": 0.03,
}  # fmt: skip
HOURLY = np.array(
    [0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6, 1.4,
     1.1, 1.2, 1.5, 1.6, 1.5, 1.3, 1.1, 1.0, 0.9, 0.7, 0.5, 0.3]
)  # fmt: skip
BEIJING_OFFSET_H = 8


@dataclass
class Tally:
    """What the API answered, by outcome."""

    answers: Counter = field(default_factory=Counter)
    invalid_sent: int = 0
    invalid_refused: int = 0

    def summary(self) -> str:
        parts = [f"{k}: {v}" for k, v in sorted(self.answers.items())]
        return ", ".join(parts) + (f"; invalid refused {self.invalid_refused}/{self.invalid_sent}")


class Simulator:
    """Draws reports inside ``outline`` (a WGS-84 polygon of the jurisdiction)."""

    def __init__(
        self,
        base_url: str,
        keys: dict[str, str],
        outline: shapely.Geometry,
        *,
        seed: int = 12345,
        invalid_share: float = 0.05,
        duplicate_share: float = 0.06,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self.rng = np.random.default_rng(seed)
        self.invalid_share = invalid_share
        self.duplicate_share = duplicate_share
        self._outline = outline
        shapely.prepare(outline)
        cats = categories_frame()
        self.categories = cats["code"].to_numpy()
        self.weights = (cats["demo_weight"] / cats["demo_weight"].sum()).to_numpy()
        self.severity = {r.code: np.array(r.severity_weights) for r in cats.itertuples()}
        self.hot_spots = self._points(25)
        self.recent: list[dict] = []
        self.tally = Tally()

    def _points(self, n: int) -> np.ndarray:
        minx, miny, maxx, maxy = self._outline.bounds
        out: list[tuple[float, float]] = []
        while len(out) < n:
            xs = self.rng.uniform(minx, maxx, n * 3)
            ys = self.rng.uniform(miny, maxy, n * 3)
            inside = shapely.contains_xy(self._outline, xs, ys)
            out += list(zip(xs[inside], ys[inside], strict=True))
        return np.array(out[:n])

    def _location(self) -> tuple[float, float]:
        for _ in range(20):
            if self.rng.random() < 0.4:
                hx, hy = self.hot_spots[self.rng.integers(len(self.hot_spots))]
                x, y = hx + self.rng.normal(0, 0.0015), hy + self.rng.normal(0, 0.0015)
            else:
                x, y = self._points(1)[0]
            if shapely.contains_xy(self._outline, x, y):
                return float(x), float(y)
        return tuple(self._points(1)[0])  # type: ignore[return-value]

    def next_event(self, now: datetime) -> tuple[dict, bool]:
        """One event to post, and whether it is deliberately invalid."""
        if self.recent and self.rng.random() < self.duplicate_share:
            base = self.recent[self.rng.integers(len(self.recent))]
            channels = [c for c in CHANNEL_SHARES if c != base["channel"]]
            event = dict(
                base,
                channel=str(self.rng.choice(channels)),
                external_id=f"SIM-{uuid.uuid4().hex[:16]}",
                lon=base["lon"] + self.rng.normal(0, 0.0002),
                lat=base["lat"] + self.rng.normal(0, 0.0002),
                reported_at=now.isoformat(),
            )
            return event, False
        channel = str(self.rng.choice(list(CHANNEL_SHARES), p=list(CHANNEL_SHARES.values())))
        category = str(self.rng.choice(self.categories, p=self.weights))
        severity = int(self.rng.choice([1, 2, 3, 4], p=self.severity[category]))
        lon, lat = self._location()
        event = {
            "channel": channel,
            "external_id": f"SIM-{uuid.uuid4().hex[:16]}",
            "category": category,
            "severity": severity,
            "lon": round(lon, 6),
            "lat": round(lat, 6),
            "reported_at": now.isoformat(),
            "description": f"模拟上报 {category}",
        }
        if channel in {"hotline", "app", "wechat", "web", "walk_in"}:
            event["reporter_phone"] = f"1{self.rng.integers(3, 9)}{self.rng.integers(0, 10**9):09d}"
        if self.rng.random() < self.invalid_share:
            return self._spoil(event), True
        self.recent = [*self.recent, event][-50:]
        return event, False

    def _spoil(self, event: dict) -> dict:
        spoilers: list[Callable[[dict], dict]] = [
            lambda e: e | {"lon": 200.0},
            lambda e: e | {"lon": 116.40, "lat": 39.90},  # Beijing: outside the jurisdiction
            lambda e: e | {"category": "XXXX"},
            lambda e: e | {"reported_at": "2026-01-01 10:00"},  # no timezone
            lambda e: {k: v for k, v in e.items() if k != "severity"},
            lambda e: e | {"severity": 9},
            lambda e: e | {"nonsense": True},
        ]
        return spoilers[self.rng.integers(len(spoilers))](dict(event))

    def post(self, event: dict) -> int:
        key = self.keys[event.get("channel", "hotline")]
        request = urllib.request.Request(
            self.base_url + "/api/v1/events",
            data=json.dumps(event).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "X-API-Key": key},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code
        except urllib.error.URLError:
            return 0  # server unreachable: counted, retried by the next tick

    def run(
        self,
        rate: float,
        duration: float,
        *,
        follow_clock: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> Tally:
        """Post about ``rate`` events a second for ``duration`` seconds (0 = forever).

        With ``follow_clock`` the rate follows Beijing's time of day (quiet at night).
        """
        started = time.monotonic()
        next_report = started + 10
        while duration <= 0 or time.monotonic() - started < duration:
            now = datetime.now(UTC)
            factor = HOURLY[(now.hour + BEIJING_OFFSET_H) % 24] if follow_clock else 1.0
            event, invalid = self.next_event(now)
            status = self.post(event)
            self.tally.answers[status] += 1
            if invalid:
                self.tally.invalid_sent += 1
                self.tally.invalid_refused += 400 <= status < 500
            if report and time.monotonic() >= next_report:
                report(self.tally.summary())
                next_report += 10
            time.sleep(float(self.rng.exponential(1.0 / max(rate * factor, 1e-3))))
        return self.tally
