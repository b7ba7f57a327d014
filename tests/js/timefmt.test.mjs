// The display-time helper (assets/timefmt.js) under Node's own test runner.
import test from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const MODULE = fileURLToPath(new URL("../../assets/timefmt.js", import.meta.url));
const time = require(MODULE);
const NY = "America/New_York";

test("the ticker's bug: 17:42 UTC is 01:42 the next day in Beijing", () => {
  const at = "2026-11-01T17:42:00+00:00";
  assert.equal(time.hm(at, "zh"), "01:42");
  assert.equal(time.hms(at, "en"), "01:42:00");
  assert.equal(time.minute(at, "zh"), "2026-11-02 01:42");
  assert.equal(time.day(at, "zh"), "2026-11-02");
  assert.equal(time.hm(at, "zh", "UTC"), "17:42");
});

test("the long date matches the server's (geo_data.localtime.fmt_date_long)", () => {
  const at = "2026-11-01T17:42:00Z";
  assert.equal(time.dateLong(at, "zh"), "2026年11月2日 星期一");
  assert.equal(time.dateLong(at, "en"), "Mon 2 Nov 2026");
  assert.equal(time.dateLong(at, "zh", NY), "2026年11月1日 星期日");
  assert.equal(time.dateLong(at, "en", NY), "Sun 1 Nov 2026");
});

test("midnight is 00, never 24", () => {
  assert.equal(time.hms("2026-11-01T16:00:00Z", "zh"), "00:00:00");
  assert.equal(time.minute("2026-11-01T16:00:00Z", "en"), "2026-11-02 00:00");
});

test("every kind of instant reads the same; a string without an offset is UTC", () => {
  const ms = Date.UTC(2026, 10, 1, 17, 42, 5, 123);
  for (const value of [
    ms,
    new Date(ms),
    "2026-11-01T17:42:05.123Z",
    "2026-11-01T17:42:05.123456+00:00", // Python's isoformat keeps microseconds
    "2026-11-02T01:42:05.123+08:00",
    "2026-11-01T17:42:05.123", // no offset: UTC, not the browser's zone
    "2026-11-01 17:42:05",
  ]) {
    assert.equal(time.hms(value, "zh"), "01:42:05", String(value));
  }
});

test("nothing readable gives an empty string, not 'Invalid Date'", () => {
  for (const value of [null, undefined, "", "soon", "2026-13-45T99:00:00Z", NaN]) {
    assert.equal(time.hm(value, "zh"), "", String(value));
    assert.equal(time.minute(value, "en"), "", String(value));
    assert.equal(time.dateLong(value, "en"), "", String(value));
    assert.equal(time.parts(value), null, String(value));
  }
});

test("New York's spring-forward hour does not exist", () => {
  // 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
  assert.equal(time.hms("2026-03-08T06:59:59Z", "en", NY), "01:59:59");
  assert.equal(time.hms("2026-03-08T07:00:00Z", "en", NY), "03:00:00");
  assert.equal(time.minute("2026-03-08T07:30:00Z", "en", NY), "2026-03-08 03:30");
});

test("New York's fall-back hour happens twice", () => {
  // 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00 UTC.
  assert.equal(time.hm("2026-11-01T05:30:00Z", "en", NY), "01:30"); // EDT
  assert.equal(time.hm("2026-11-01T06:30:00Z", "en", NY), "01:30"); // EST, an hour later
  assert.equal(time.hms("2026-11-01T05:59:59Z", "en", NY), "01:59:59");
  assert.equal(time.hms("2026-11-01T06:00:00Z", "en", NY), "01:00:00");
  assert.equal(time.hm("2026-11-01T07:00:00Z", "en", NY), "02:00");
});

test("New York's local day turns at its own midnight, on either side of the change", () => {
  assert.equal(time.day("2026-11-01T03:59:59Z", "en", NY), "2026-10-31"); // EDT, UTC-4
  assert.equal(time.day("2026-11-01T04:00:00Z", "en", NY), "2026-11-01");
  assert.equal(time.day("2026-11-02T04:59:59Z", "en", NY), "2026-11-01"); // EST, UTC-5
  assert.equal(time.day("2026-11-02T05:00:00Z", "en", NY), "2026-11-02");
  assert.equal(time.dateLong("2026-03-08T05:00:00Z", "zh", NY), "2026年3月8日 星期日");
});

test("the result does not depend on the zone of the machine running it", () => {
  const script = `
    const t = require(${JSON.stringify(MODULE)});
    const at = ["2026-11-01T17:42:05Z", "2026-03-08T07:00:00Z", "2026-11-01T06:30:00Z",
                "2026-11-01T17:42:05", 1793554925000];
    const out = [];
    for (const v of at) {
      for (const tz of [undefined, "UTC", "America/New_York"]) {
        out.push([t.hm(v, "zh", tz), t.hms(v, "en", tz), t.minute(v, "zh", tz),
                  t.day(v, "en", tz), t.dateLong(v, "zh", tz), t.dateLong(v, "en", tz)]);
      }
    }
    process.stdout.write(JSON.stringify({ local: new Date(0).getTimezoneOffset(), out }));
  `;
  const run = (tz) =>
    JSON.parse(
      execFileSync(process.execPath, ["-e", script], {
        env: { ...process.env, TZ: tz },
        encoding: "utf8",
      }),
    );
  const utc = run("UTC");
  const newYork = run("America/New_York");
  const shanghai = run("Asia/Shanghai");
  // The children really did run in different zones...
  assert.equal(utc.local, 0);
  assert.equal(newYork.local, 300);
  assert.equal(shanghai.local, -480);
  // ...and printed the same times.
  assert.deepEqual(newYork.out, utc.out);
  assert.deepEqual(shanghai.out, utc.out);
  assert.deepEqual(utc.out[0], ["01:42", "01:42:05", "2026-11-02 01:42", "2026-11-02",
                                "2026年11月2日 星期一", "Mon 2 Nov 2026"]);
});

test("zone() is the page's data-timezone, else Asia/Shanghai", (t) => {
  assert.equal(time.zone(), "Asia/Shanghai"); // no page under Node
  t.after(() => { delete globalThis.document; });
  globalThis.document = { documentElement: { dataset: { timezone: NY } } };
  assert.equal(time.zone(), NY);
  assert.equal(time.hm("2026-11-01T17:42:00Z", "en"), "12:42");
  assert.equal(time.zoneLabel("zh"), NY);
  globalThis.document = { documentElement: { dataset: {} } };
  assert.equal(time.zone(), "Asia/Shanghai");
  assert.equal(time.zoneLabel("zh"), "北京时间");
  assert.equal(time.zoneLabel("en"), "Beijing time");
  assert.equal(time.zoneLabel("en", "UTC"), "UTC");
});

test("an unknown zone is an error, not a silent wrong time", () => {
  assert.throws(() => time.hm("2026-11-01T17:42:00Z", "zh", "Mars/Base"), RangeError);
});

test("formatters are kept per zone and bounded: a wall running for days does not grow", () => {
  const zones = Intl.supportedValuesOf("timeZone").slice(0, 3 * time.MAX_FORMATS);
  for (let round = 0; round < 3; round += 1) {
    for (const tz of zones) {
      time.hm("2026-11-01T17:42:00Z", "zh", tz);
      time.dateLong("2026-11-01T17:42:00Z", "en", tz);
    }
  }
  assert.ok(time.cachedFormats() <= time.MAX_FORMATS, String(time.cachedFormats()));
  const before = time.cachedFormats();
  for (let i = 0; i < 1000; i += 1) { time.hms(Date.UTC(2026, 10, 1, 0, 0, i), "zh"); }
  assert.ok(time.cachedFormats() <= before + 1);
});
