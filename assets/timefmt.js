/*
 * Times for display, in the browser: every time on every page in the configured zone
 * (GRIDWATCH_TIMEZONE, which the server puts on the page as <html data-timezone>), never
 * in the zone of the browser that shows it. The Python side's twin is geo_data/localtime.py;
 * both give the same strings for the same instant.
 *
 * Inputs are instants: a UTC ISO string from the server ("2026-11-01T12:00:00+00:00"; one
 * without an offset is read as UTC, never as browser-local time), a Date or epoch
 * milliseconds. Anything unreadable gives "". `lang` is "zh" or "en"; only dateLong and
 * zoneLabel differ by language (times are 24-hour digits in both). `tz` defaults to zone().
 *
 * No DOM in the core: only zone() looks at the page. One Intl.DateTimeFormat per zone is
 * kept (at most MAX_FORMATS), so a screen left running for days does not grow.
 * Loaded by Dash from assets/ (window.gridwatchTime) and by `node --test`
 * (tests/js/timefmt.test.mjs) through module.exports.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) { module.exports = api; }
  if (root) { root.gridwatchTime = api; }
})(typeof window !== "undefined" ? window : null, function () {
  "use strict";

  var DEFAULT_ZONE = "Asia/Shanghai";
  var MAX_FORMATS = 8;
  var WEEKDAYS = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };  // Monday first
  var WEEKDAYS_EN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var WEEKDAYS_ZH = "一二三四五六日";
  var MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                   "Nov", "Dec"];
  // A date-time with no zone designator (Z or ±hh:mm) at its end.
  var NAIVE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;
  var formats = new Map();  // zone -> Intl.DateTimeFormat, oldest first

  /* The configured zone: the page's <html data-timezone>, else Asia/Shanghai. */
  function zone() {
    var doc = typeof document !== "undefined" ? document : null;
    var el = doc && doc.documentElement;
    var tz = el && el.dataset ? el.dataset.timezone : null;
    return tz || DEFAULT_ZONE;
  }

  function formatter(tz) {
    var f = formats.get(tz);
    if (f) { return f; }
    // en-US with explicit fields: numeric parts and short English weekday names whatever
    // the browser's language; the strings are assembled below, never locale-dependent.
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", weekday: "short", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"
    });
    if (formats.size >= MAX_FORMATS) { formats.delete(formats.keys().next().value); }
    formats.set(tz, f);
    return f;
  }

  function toDate(value) {
    if (value === null || value === undefined || value === "") { return null; }
    var d;
    if (value instanceof Date) {
      d = value;
    } else if (typeof value === "number") {
      d = new Date(value);
    } else {
      var text = String(value).trim();
      d = new Date(NAIVE.test(text) ? text.replace(" ", "T") + "Z" : text);
    }
    return isNaN(d.getTime()) ? null : d;
  }

  function pad(n, width) {
    var s = String(n);
    while (s.length < width) { s = "0" + s; }
    return s;
  }

  /*
   * The instant's wall-clock fields in `tz`: {year, month (1-12), day, hour (0-23),
   * minute, second, weekday (0 = Monday .. 6 = Sunday)}, or null when unreadable.
   */
  function parts(value, tz) {
    var d = toDate(value);
    if (!d) { return null; }
    var out = {};
    formatter(tz || zone()).formatToParts(d).forEach(function (p) {
      if (p.type === "weekday") { out.weekday = WEEKDAYS[p.value]; }
      else if (p.type !== "literal") { out[p.type] = parseInt(p.value, 10); }
    });
    if (out.hour === 24) { out.hour = 0; }  // engines that once counted midnight as 24
    return out;
  }

  /* "HH:MM", 24-hour. */
  function hm(value, lang, tz) {
    var p = parts(value, tz);
    return p ? pad(p.hour, 2) + ":" + pad(p.minute, 2) : "";
  }

  /* "HH:MM:SS", 24-hour (the wall's clock). */
  function hms(value, lang, tz) {
    var p = parts(value, tz);
    return p ? pad(p.hour, 2) + ":" + pad(p.minute, 2) + ":" + pad(p.second, 2) : "";
  }

  function ymd(p) { return pad(p.year, 4) + "-" + pad(p.month, 2) + "-" + pad(p.day, 2); }

  /* "YYYY-MM-DD" (the local day). */
  function day(value, lang, tz) {
    var p = parts(value, tz);
    return p ? ymd(p) : "";
  }

  /* "YYYY-MM-DD HH:MM", as the tables and "as of" lines print a time. */
  function minute(value, lang, tz) {
    var p = parts(value, tz);
    return p ? ymd(p) + " " + pad(p.hour, 2) + ":" + pad(p.minute, 2) : "";
  }

  /* The day with its weekday: "Sun 1 Nov 2026" or "2026年11月1日 星期日". */
  function dateLong(value, lang, tz) {
    var p = parts(value, tz);
    if (!p) { return ""; }
    if (lang === "en") {
      return WEEKDAYS_EN[p.weekday] + " " + p.day + " " + MONTHS_EN[p.month - 1] + " " + p.year;
    }
    return p.year + "年" + p.month + "月" + p.day + "日 星期" + WEEKDAYS_ZH.charAt(p.weekday);
  }

  /* What the times are in: 北京时间 / Beijing time for Asia/Shanghai, else the zone's name. */
  function zoneLabel(lang, tz) {
    tz = tz || zone();
    if (tz !== DEFAULT_ZONE) { return tz; }
    return lang === "en" ? "Beijing time" : "北京时间";
  }

  return {
    DEFAULT_ZONE: DEFAULT_ZONE,
    MAX_FORMATS: MAX_FORMATS,
    zone: zone,
    parts: parts,
    hm: hm,
    hms: hms,
    day: day,
    minute: minute,
    dateLong: dateLong,
    zoneLabel: zoneLabel,
    cachedFormats: function () { return formats.size; }
  };
});
