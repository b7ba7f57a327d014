"""The MQTT sensor feed: a real Mosquitto, a real app server and the bridge between them.

The first tests exercise :meth:`SensorBridge.handle` alone (no broker); the rest publish
with paho to a Mosquitto started for the session and look for the cases in PostGIS.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from app.api.schemas import EventIn
from app.cli import main
from etl.feeds.mqtt import (
    KIND_CATEGORIES,
    Debounced,
    Delivery,
    Malformed,
    MqttFeed,
    Post,
    SensorBridge,
    external_id,
    parse_broker,
)
from geo_data.actors import system_actor
from geo_data.api_keys import create_key
from geo_data.catalogue import category
from tests.realtime.conftest import free_port

BEIJING = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 11, 1, 20, 15, tzinfo=BEIJING)


def alert(sensor_id: str = "CH-SMK-00042", kind: str = "smoke", **extra: Any) -> dict[str, Any]:
    return {
        "sensor_id": sensor_id,
        "kind": kind,
        "lon": 104.1031,
        "lat": 30.6602,
        "at": AT.isoformat(),
    } | extra


def payload(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


# -- handle(): no broker, no API -------------------------------------------------------


def test_every_kind_maps_to_an_iot_alarm_category() -> None:
    assert set(KIND_CATEGORIES) == {"smoke", "water", "elevator", "access", "parking"}
    for code in KIND_CATEGORIES.values():
        assert category(code).class_code == "E92"
    assert category(KIND_CATEGORIES["smoke"]).name_en == "Smoke alarm"


def test_alert_becomes_an_event_the_api_accepts() -> None:
    action = SensorBridge().handle(payload(alert(severity=2, text="3栋2单元")), now=0.0)
    assert isinstance(action, Post)
    event = EventIn.model_validate(action.event)  # the API's own schema
    assert event.channel == "iot_sensor"
    assert event.category == "E9201"
    assert event.severity == 2
    assert event.reported_at == AT
    assert event.external_id == "CH-SMK-00042:smoke:20261101T121500Z"
    assert "CH-SMK-00042" in event.description and "3栋2单元" in event.description


def test_missing_severity_takes_the_categorys_default() -> None:
    action = SensorBridge().handle(payload(alert(kind="elevator")), now=0.0)
    assert isinstance(action, Post)
    assert action.event["category"] == "E9203"
    assert action.event["severity"] == category("E9203").default_severity


def test_repeats_within_the_window_are_counted_not_posted() -> None:
    bridge = SensorBridge(debounce=300)
    first = bridge.handle(payload(alert()), now=1000.0)
    repeats = [
        bridge.handle(payload(alert(at=(AT + timedelta(seconds=30 * i)).isoformat())), 1000.0 + i)
        for i in range(1, 5)
    ]
    assert isinstance(first, Post)
    assert all(isinstance(r, Debounced) for r in repeats)
    assert [r.repeats for r in repeats] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert {r.external_id for r in repeats} == {first.event["external_id"]}  # type: ignore[union-attr]
    assert bridge.tally["posted"] == 1 and bridge.tally["debounced"] == 4
    # another kind from the same sensor, or another sensor, has its own window
    assert isinstance(bridge.handle(payload(alert(kind="water")), 1001.0), Post)
    assert isinstance(bridge.handle(payload(alert(sensor_id="CH-SMK-00043")), 1001.0), Post)


def test_alert_after_the_window_is_posted_again_with_its_own_id() -> None:
    bridge = SensorBridge(debounce=300)
    first = bridge.handle(payload(alert()), now=0.0)
    later_at = (AT + timedelta(minutes=6)).isoformat()
    again = bridge.handle(payload(alert(at=later_at)), now=300.0)
    assert isinstance(first, Post) and isinstance(again, Post)
    assert again.event["external_id"] == "CH-SMK-00042:smoke:20261101T122100Z"


def test_redelivered_alert_names_the_same_event() -> None:
    """A restarted bridge (fresh windows) gets a QoS 1 duplicate: same external_id."""
    once = SensorBridge().handle(payload(alert()), now=0.0)
    again = SensorBridge().handle(payload(alert()), now=5000.0)
    assert isinstance(once, Post) and isinstance(again, Post)
    assert once.event == again.event


def test_same_instant_in_another_offset_gives_the_same_id() -> None:
    utc = AT.astimezone(UTC)
    assert external_id("s1", "water", AT) == external_id("s1", "water", utc)


@pytest.mark.parametrize(
    "sensor_id",
    ["AA:BB:CC:DD:EE:FF", "楼栋3-烟感/2", "x" * 128, "-leading-dash", "sensor with spaces"],
)
def test_any_sensor_id_gives_an_id_the_api_accepts(sensor_id: str) -> None:
    action = SensorBridge().handle(payload(alert(sensor_id=sensor_id, kind="elevator")), 0.0)
    assert isinstance(action, Post)
    EventIn.model_validate(action.event)
    assert sensor_id in action.event["description"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (payload({k: v for k, v in alert().items() if k != "sensor_id"}), "sensor_id"),
        (payload({k: v for k, v in alert().items() if k != "at"}), "at"),
        (payload(alert(kind="gas")), "unknown kind 'gas'"),
        (payload(alert(at="2026-11-01T20:15:00")), "at"),  # no offset
        (payload(alert(severity=9)), "severity"),
        (payload(alert(severity=True)), "severity"),
        (payload(alert(lon="east")), "lon"),
        (payload(alert(lat=95.0)), "lat"),
        (b'{"sensor_id": "s", "kind": "smoke", "lon": NaN, "lat": 30, "at": "x"}', "lon"),
    ],
)
def test_malformed_messages_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    bridge = SensorBridge()
    action = bridge.handle(raw, now=0.0)
    assert isinstance(action, Malformed)
    assert reason in action.reason
    assert bridge.tally["malformed"] == 1 and bridge.tally["posted"] == 0


def test_forgotten_window_lets_the_next_alert_post() -> None:
    """After delivery fails for good, the sensor's next alert is not swallowed."""
    bridge = SensorBridge(debounce=300)
    first = bridge.handle(payload(alert()), now=0.0)
    assert isinstance(first, Post)
    bridge.forget(first)
    assert isinstance(bridge.handle(payload(alert()), now=1.0), Post)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:1883", ("127.0.0.1", 1883)),
        ("broker.local:8883", ("broker.local", 8883)),
        ("broker.local", ("broker.local", 1883)),
        ("[::1]:1884", ("::1", 1884)),
    ],
)
def test_parse_broker(value: str, expected: tuple[str, int]) -> None:
    assert parse_broker(value) == expected


@pytest.mark.parametrize("value", ["host:port", ":1883", "host:70000", ""])
def test_cli_refuses_a_bad_broker(value: str) -> None:
    result = CliRunner().invoke(main, ["feed", "mqtt", "--broker", value])
    assert result.exit_code == 2
    assert "HOST:PORT" in result.output


# -- a real broker, a real server ------------------------------------------------------


def mosquitto_binary() -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("mosquitto", path=path)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


class Broker:
    """A Mosquitto on 127.0.0.1 with a minimal config in its own directory."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.config = root / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with (self.root / "mosquitto.log").open("a") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_until(self._accepts, timeout=10):
            self.stop()
            raise RuntimeError(f"mosquitto did not listen: {self.log()[-2000:]}")

    def _accepts(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {self.log()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        path = self.root / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def publish(self, topic: str, payloads: list[bytes]) -> None:
        """Publish with QoS 1 and wait (bounded) until the broker has each message."""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        try:
            for body in payloads:
                info = client.publish(topic, body, qos=1)
                info.wait_for_publish(timeout=5)
                assert info.is_published(), f"broker did not take the message on {topic}"
        finally:
            client.disconnect()
            client.loop_stop()


@pytest.fixture(scope="session")
def mqtt_binary() -> str:
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("the mosquitto binary is absent (scripts/bootstrap --test installs it)")
    return binary


@pytest.fixture(scope="session")
def mqtt_broker(mqtt_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(mqtt_binary, tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def sensor_key(demo_engine: Engine) -> str:
    with demo_engine.begin() as conn:
        name = f"mqtt-test-{uuid.uuid4().hex[:8]}"
        return create_key(conn, name, "iot_sensor", system_actor(conn), 10_000)


@pytest.fixture(scope="module")
def grid_points(demo_engine: Engine) -> list[tuple[float, float]]:
    """Label points of grids spread over the demo city."""
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(label_point), ST_Y(label_point) FROM areas WHERE level = 'grid'"
                " ORDER BY code"
            )
        ).all()
    return [(float(x), float(y)) for x, y in rows[7::37]]


@pytest.fixture
def start_feed(live_url: str, sensor_key: str) -> Iterator[Callable[..., MqttFeed]]:
    """Start bridges (threads) against the live server; each stopped after the test."""
    feeds: list[MqttFeed] = []

    def start(broker: Broker, debounce: float = 300.0) -> MqttFeed:
        bridge = SensorBridge(debounce)
        delivery = Delivery(live_url, sensor_key, bridge, attempts=2, max_delay=1)
        feed = MqttFeed(bridge, delivery, "127.0.0.1", broker.port, "gridwatch/sensors/#")
        feeds.append(feed)
        feed.start()
        assert feed.subscribed.wait(10), "the bridge never subscribed"
        return feed

    yield start
    for feed in feeds:
        feed.stop()


def sensor_alert(sensor_id: str, kind: str, point: tuple[float, float], **extra: Any) -> bytes:
    at = datetime.now(BEIJING).replace(microsecond=0)
    return payload(
        {"sensor_id": sensor_id, "kind": kind, "lon": point[0], "lat": point[1]}
        | {"at": at.isoformat()}
        | extra
    )


def cases_of(engine: Engine, sensor_id: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT channel, category_code, external_id FROM cases"
                " WHERE external_id LIKE :prefix ORDER BY id"
            ),
            {"prefix": sensor_id + ":%"},
        ).all()


def new_sensor(kind: str) -> str:
    return f"T-{kind}-{uuid.uuid4().hex[:10]}"


def test_smoke_alarm_becomes_one_iot_case(
    mqtt_broker: Broker, start_feed, grid_points, demo_engine: Engine
) -> None:
    feed = start_feed(mqtt_broker)
    sensor = new_sensor("smoke")
    mqtt_broker.publish(
        f"gridwatch/sensors/{sensor}", [sensor_alert(sensor, "smoke", grid_points[0])]
    )
    rows = wait_until(lambda: cases_of(demo_engine, sensor))
    assert len(rows) == 1
    assert rows[0].channel == "iot_sensor"
    assert rows[0].category_code == KIND_CATEGORIES["smoke"] == "E9201"
    assert feed.bridge.tally["stored"] == 1


def test_repeated_alert_within_the_debounce_window_stays_one_case(
    mqtt_broker: Broker, start_feed, grid_points, demo_engine: Engine
) -> None:
    feed = start_feed(mqtt_broker, debounce=300)
    sensor = new_sensor("water")
    body = sensor_alert(sensor, "water", grid_points[1], severity=2)
    mqtt_broker.publish(f"gridwatch/sensors/{sensor}", [body] * 5)
    assert wait_until(lambda: feed.bridge.tally["received"] == 5)
    assert wait_until(lambda: feed.bridge.tally["stored"] == 1)
    assert feed.bridge.tally["debounced"] == 4
    assert feed.bridge.tally["posted"] == 1
    assert len(cases_of(demo_engine, sensor)) == 1


def test_redelivered_alert_after_a_restart_is_idempotent_at_the_api(
    mqtt_broker: Broker, start_feed, grid_points, demo_engine: Engine
) -> None:
    first = start_feed(mqtt_broker)
    sensor = new_sensor("elevator")
    body = sensor_alert(sensor, "elevator", grid_points[2])
    mqtt_broker.publish(f"gridwatch/sensors/{sensor}", [body])
    assert wait_until(lambda: first.bridge.tally["stored"] == 1)
    first.stop()
    second = start_feed(mqtt_broker)  # forgot every window, as after a crash
    mqtt_broker.publish(f"gridwatch/sensors/{sensor}", [body])
    assert wait_until(lambda: second.bridge.tally["already_stored"] == 1)
    assert second.bridge.tally["stored"] == 0
    assert len(cases_of(demo_engine, sensor)) == 1


def test_malformed_and_unknown_kind_are_skipped_and_the_bridge_keeps_going(
    mqtt_broker: Broker,
    start_feed,
    grid_points,
    demo_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="etl.feeds.mqtt")
    feed = start_feed(mqtt_broker)
    bad, unknown, good = new_sensor("access"), new_sensor("gas"), new_sensor("access")
    topic = "gridwatch/sensors/mixed"
    mqtt_broker.publish(
        topic,
        [
            b'{"sensor_id": "' + bad.encode() + b'", "kind": "access", ',  # cut short
            sensor_alert(unknown, "gas", grid_points[3]),
            sensor_alert(good, "access", grid_points[3]),
        ],
    )
    rows = wait_until(lambda: cases_of(demo_engine, good))
    assert [r.category_code for r in rows] == ["E9204"]
    assert feed.bridge.tally["malformed"] == 2
    assert cases_of(demo_engine, bad) == [] and cases_of(demo_engine, unknown) == []
    messages = [r.getMessage() for r in caplog.records]
    assert any("malformed" in m and "not JSON" in m for m in messages)
    assert any("unknown kind 'gas'" in m for m in messages)


def test_point_outside_the_jurisdiction_is_refused_by_the_api(
    mqtt_broker: Broker,
    start_feed,
    demo_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="etl.feeds.mqtt")
    feed = start_feed(mqtt_broker)
    sensor = new_sensor("parking")
    beijing = (116.40, 39.90)
    mqtt_broker.publish(f"gridwatch/sensors/{sensor}", [sensor_alert(sensor, "parking", beijing)])
    assert wait_until(lambda: feed.bridge.tally["refused"] == 1)
    assert cases_of(demo_engine, sensor) == []
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and "422" in refusals[0] and "outside the jurisdiction" in refusals[0]


def test_bridge_reconnects_after_the_broker_restarts(
    mqtt_binary: str,
    start_feed,
    grid_points,
    demo_engine: Engine,
    tmp_path: Path,
) -> None:
    broker = Broker(mqtt_binary, tmp_path)
    broker.start()
    try:
        feed = start_feed(broker)
        broker.stop()
        assert wait_until(lambda: not feed.subscribed.is_set()), "the loss went unnoticed"
        broker.start()
        assert feed.subscribed.wait(20), "the bridge did not come back"
        assert feed.connections == 2
        sensor = new_sensor("smoke")
        broker.publish(
            f"gridwatch/sensors/{sensor}", [sensor_alert(sensor, "smoke", grid_points[4])]
        )
        assert len(wait_until(lambda: cases_of(demo_engine, sensor))) == 1
    finally:
        broker.stop()
