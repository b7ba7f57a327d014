"""The MQTT sensor feed: IoT alarms from a broker become cases through the public API.

The bridge subscribes to a topic filter (``gridwatch/sensors/#`` by default) and posts
each alert to ``/api/v1/events`` with the ``iot_sensor`` channel's key, the same path
as every other channel: validation, the jurisdiction check, duplicate merging and the
live feed all happen in the app, never here.

Message format: one JSON object (UTF-8) per MQTT message; other fields are ignored::

    {
      "sensor_id": "CH-SMK-00042",          # required: the device's stable id
      "kind": "smoke",                      # required: see below
      "lon": 104.1031, "lat": 30.6602,      # required: WGS-84 degrees
      "at": "2026-11-01T20:15:00+08:00",    # required: ISO-8601 with a UTC offset
      "severity": 2,                        # optional: 1 (most severe) to 4;
                                            #   default: the category's default
      "text": "3栋2单元 烟感"                 # optional: goes into the case description
    }

``kind`` maps to a catalogue category (class E92 物联感知告警)::

    smoke    E9201 烟感报警        water    E9202 水浸报警
    elevator E9203 电梯困人        access   E9204 门禁异常
    parking  E9205 车辆违停告警

De-bounce: a sensor repeats its alarm while the condition lasts. The first alert of a
sensor and kind opens a window of ``debounce`` seconds (by the bridge's clock, not the
sensor's); repeats inside it are counted, not posted. The next alert after the window
posts again (a lasting alarm reaches the case store, which merges it into the open case).

Idempotence: the event's ``external_id`` is ``{sensor_id}:{kind}:{first alert time}``,
the time in UTC as ``YYYYMMDDTHHMMSSZ`` (the API allows no ``+`` in ids). A re-delivered
alert (QoS 1 duplicates, retained messages, a restarted bridge) therefore names the
same case and the API answers "already stored". A sensor id that the API's id pattern
or its 64 characters cannot hold is replaced by ``h`` + 20 hex digits of its SHA-256
in the id; the description always names the real sensor.

Failures never stop the subscriber: a malformed message (not JSON, a missing or invalid
field, an unknown kind) is logged with the reason and counted; an API refusal (4xx) is
logged with the API's reason; an unreachable API, 429 or 5xx is retried with back-off
and, if it still fails, the window is dropped so that the sensor's next alert posts
again. paho's network loop reconnects to the broker by itself and resubscribes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from geo_data.catalogue import category

log = logging.getLogger(__name__)

CHANNEL = "iot_sensor"
DEFAULT_TOPIC = "gridwatch/sensors/#"
KIND_CATEGORIES: dict[str, str] = {
    "smoke": "E9201",
    "water": "E9202",
    "elevator": "E9203",
    "access": "E9204",
    "parking": "E9205",
}
API_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")  # the API's external_id pattern
MAX_EXTERNAL_ID = 64
MAX_DESCRIPTION = 2000


class SensorAlert(BaseModel):
    """One alert as a sensor (or its gateway) publishes it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    sensor_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
    kind: str
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    at: AwareDatetime
    severity: Annotated[int | None, Field(ge=1, le=4, strict=True)] = None
    text: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("kind")
    @classmethod
    def known_kind(cls, value: str) -> str:
        if value not in KIND_CATEGORIES:
            raise ValueError(f"unknown kind {value!r} (one of: {', '.join(KIND_CATEGORIES)})")
        return value


def external_id(sensor_id: str, kind: str, first_at: datetime) -> str:
    """The event id of a sensor's alert window: the same alert always gives the same id."""
    stamp = first_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    room = MAX_EXTERNAL_ID - len(kind) - len(stamp) - 2
    if not (API_ID.match(sensor_id) and len(sensor_id) <= room):
        sensor_id = "h" + hashlib.sha256(sensor_id.encode()).hexdigest()[:20]
    return f"{sensor_id}:{kind}:{stamp}"


def _describe(errors: ValidationError) -> str:
    parts = []
    for err in errors.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


# -- what handling a message decides ---------------------------------------------------


@dataclass(frozen=True)
class Post:
    """Post ``event`` to the API; ``window`` is the (sensor_id, kind) it opened."""

    event: dict[str, Any]
    window: tuple[str, str]


@dataclass(frozen=True)
class Debounced:
    """A repeat inside an open window: counted, not posted."""

    sensor_id: str
    kind: str
    repeats: int
    external_id: str


@dataclass(frozen=True)
class Malformed:
    """A message that is not a valid alert, and why."""

    reason: str


Action = Post | Debounced | Malformed


class Tally:
    """Counts by outcome, shared by the subscriber and the delivery thread."""

    OUTCOMES = (
        "received",
        "posted",
        "debounced",
        "malformed",
        "stored",
        "already_stored",
        "refused",
        "failed",
        "dropped",
    )

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            self._counts[outcome] += n

    def __getitem__(self, outcome: str) -> int:
        with self._lock:
            return self._counts[outcome]

    def summary(self) -> str:
        with self._lock:
            return ", ".join(f"{k} {self._counts[k]}" for k in self.OUTCOMES)


@dataclass
class _Window:
    opened: float
    external_id: str
    repeats: int = 0


class SensorBridge:
    """Turns MQTT payloads into API events: validation, kind -> category, de-bounce.

    No I/O: :meth:`handle` decides, the wiring (:class:`MqttFeed`, :class:`Delivery`)
    acts. ``now`` is a monotonic clock in seconds.
    """

    def __init__(self, debounce: float = 300.0, tally: Tally | None = None) -> None:
        self.debounce = debounce
        self.tally = tally or Tally()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()
        self._pruned = float("-inf")

    def handle(self, payload: bytes, now: float) -> Action:
        """Decide what one message means: post it, count it as a repeat, or refuse it."""
        self.tally.add("received")
        try:
            data = json.loads(payload)
        except ValueError as exc:  # also bad UTF-8
            return self._malformed(f"not JSON ({exc})")
        if not isinstance(data, dict):
            return self._malformed(f"not a JSON object but {type(data).__name__}")
        try:
            alert = SensorAlert.model_validate(data)
        except ValidationError as exc:
            return self._malformed(_describe(exc))
        key = (alert.sensor_id, alert.kind)
        with self._lock:
            self._prune(now)
            window = self._windows.get(key)
            if window is not None and now - window.opened < self.debounce:
                window.repeats += 1
                self.tally.add("debounced")
                return Debounced(alert.sensor_id, alert.kind, window.repeats, window.external_id)
            event = self.event(alert)
            self._windows[key] = _Window(now, event["external_id"])
        self.tally.add("posted")
        return Post(event, key)

    def forget(self, post: Post) -> None:
        """Close the window ``post`` opened (it never reached the API), so the next
        alert of that sensor is posted again."""
        with self._lock:
            window = self._windows.get(post.window)
            if window is not None and window.external_id == post.event["external_id"]:
                del self._windows[post.window]

    @staticmethod
    def event(alert: SensorAlert) -> dict[str, Any]:
        """The API event (``/api/v1/events`` body) for one alert."""
        cat = category(KIND_CATEGORIES[alert.kind])
        description = f"[{alert.sensor_id}] {alert.text or cat.name_zh}"
        return {
            "channel": CHANNEL,
            "external_id": external_id(alert.sensor_id, alert.kind, alert.at),
            "category": cat.code,
            "severity": alert.severity or cat.default_severity,
            "lon": alert.lon,
            "lat": alert.lat,
            "reported_at": alert.at.isoformat(),
            "description": description[:MAX_DESCRIPTION],
        }

    def _malformed(self, reason: str) -> Malformed:
        self.tally.add("malformed")
        return Malformed(reason)

    def _prune(self, now: float) -> None:
        if now - self._pruned < max(self.debounce, 1.0):
            return
        self._pruned = now
        expired = [k for k, w in self._windows.items() if now - w.opened >= self.debounce]
        for k in expired:
            del self._windows[k]


# -- posting to the API ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the API said; status 0 when it could not be reached."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """Worth retrying: unreachable, rate-limited or a server error."""
        return self.status == 0 or self.status == 429 or self.status >= 500

    def reason(self) -> str:
        details = "; ".join(
            f"{d.get('field', '?')}: {d.get('reason', '?')}" for d in self.body.get("details", [])
        )
        head = self.body.get("error") or self.body.get("message") or "no reason given"
        return f"{head} ({details})" if details else str(head)


def post_event(base_url: str, key: str, event: dict[str, Any], timeout: float = 10.0) -> Answer:
    """POST one event to ``{base_url}/api/v1/events`` with the channel's key."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/api/v1/events",
        data=json.dumps(event, ensure_ascii=False).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _json(response.read()))
    except urllib.error.HTTPError as exc:
        with exc:
            retry = exc.headers.get("Retry-After")
            return Answer(
                exc.code, _json(exc.read()), float(retry) if retry and retry.isdigit() else None
            )
    except (urllib.error.URLError, OSError) as exc:
        return Answer(0, {"error": "unreachable", "message": str(exc)})


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Delivery:
    """Posts events from its own thread so the MQTT loop never waits on HTTP; retries
    what may succeed later (the external_id makes retries harmless)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        bridge: SensorBridge,
        *,
        attempts: int = 6,
        max_delay: float = 30.0,
        max_queue: int = 10_000,
    ) -> None:
        self.base_url = base_url
        self.key = key
        self.bridge = bridge
        self.tally = bridge.tally
        self.attempts = attempts
        self.max_delay = max_delay
        self._queue: queue.Queue[Post | None] = queue.Queue(max_queue)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the event in hand (queued ones are dropped: the sensor repeats)."""
        self._stop.set()
        if self._thread is not None:
            with contextlib.suppress(queue.Full):  # busy: it sees the stop flag next
                self._queue.put_nowait(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, post: Post) -> None:
        try:
            self._queue.put_nowait(post)
        except queue.Full:
            self.tally.add("dropped")
            self.bridge.forget(post)
            log.error("delivery queue full: dropped %s", post.event["external_id"])

    def _run(self) -> None:
        while not self._stop.is_set():
            post = self._queue.get()
            if post is None:
                break
            try:
                self.deliver(post)
            except Exception:  # a bug must not end delivery
                log.exception("delivering %s failed", post.event["external_id"])
                self.tally.add("failed")
                self.bridge.forget(post)

    def deliver(self, post: Post) -> Answer:
        """Post one event, retrying transient failures with back-off; log the outcome."""
        event = post.event
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            answer = post_event(self.base_url, self.key, event)
            if not answer.transient:
                break
            if attempt == self.attempts or self._stop.is_set():
                break
            wait = min(answer.retry_after or delay, self.max_delay)
            log.warning(
                "API answered %s for %s (%s); retry %d in %.0fs",
                answer.status or "nothing",
                event["external_id"],
                answer.reason(),
                attempt,
                wait,
            )
            if self._stop.wait(wait):
                break
            delay = min(delay * 2, self.max_delay)
        if answer.status == 201:
            self.tally.add("stored")
            log.info(
                "%s -> case %s (%s)",
                event["external_id"],
                answer.body.get("case_id"),
                answer.body.get("status"),
            )
        elif answer.status == 200:
            self.tally.add("already_stored")
            log.info(
                "%s already stored as case %s", event["external_id"], answer.body.get("case_id")
            )
        elif answer.transient:
            self.tally.add("failed")
            self.bridge.forget(post)
            log.error(
                "gave up on %s: API answered %s (%s); the next alert will be posted",
                event["external_id"],
                answer.status or "nothing",
                answer.reason(),
            )
        else:
            self.tally.add("refused")
            log.warning(
                "API refused %s with %s: %s", event["external_id"], answer.status, answer.reason()
            )
        return answer


# -- the MQTT wiring -------------------------------------------------------------------


def parse_broker(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, port 1883; ``[v6]:PORT``) as (host, port)."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):
        host, port = value.strip(), "1883"
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


class MqttFeed:
    """paho's client around a :class:`SensorBridge` and a :class:`Delivery`.

    paho's own thread runs the network loop, which reconnects with back-off (1 s up to
    30 s) and resubscribes on every connect. With ``client_id`` the broker keeps a
    persistent session, so QoS 1 alerts published while the bridge is away still
    arrive; without one the session is clean.
    """

    def __init__(
        self,
        bridge: SensorBridge,
        delivery: Delivery,
        host: str,
        port: int,
        topic: str = DEFAULT_TOPIC,
        *,
        client_id: str | None = None,
        keepalive: int = 30,
    ) -> None:
        self.bridge = bridge
        self.delivery = delivery
        self.host, self.port, self.topic = host, port, topic
        self.keepalive = keepalive
        self.subscribed = threading.Event()
        self.connections = 0
        self._stopping = False
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or "",
            clean_session=client_id is None,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        """Connect (retrying until the broker answers) and listen, in the background."""
        self._stopping = False
        self.delivery.start()
        self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        self.delivery.stop()

    def run(self, stop: threading.Event, report_every: float = 60.0) -> None:
        """Listen until ``stop`` is set, logging the tally every ``report_every`` s."""
        self.start()
        try:
            while not stop.wait(report_every):
                log.info("mqtt feed: %s", self.bridge.tally.summary())
        finally:
            self.stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning(
                "broker %s:%s refused the connection: %s", self.host, self.port, reason_code
            )
            return
        self.connections += 1
        log.info("connected to %s:%s; subscribing to %s", self.host, self.port, self.topic)
        client.subscribe(self.topic, qos=1)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: object) -> None:
        log.warning("broker %s:%s unreachable; retrying", self.host, self.port)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused the subscription to %s: %s", self.topic, reason_codes)
            return
        self.subscribed.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.subscribed.clear()
        if not self._stopping:
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        try:
            action = self.bridge.handle(message.payload, time.monotonic())
        except Exception:  # a bug must not end paho's loop
            log.exception("handling a message on %s failed", message.topic)
            return
        if isinstance(action, Post):
            self.delivery.submit(action)
        elif isinstance(action, Malformed):
            log.warning("malformed message on %s: %s", message.topic, action.reason)
        else:
            log.debug("repeat %d of %s", action.repeats, action.external_id)
