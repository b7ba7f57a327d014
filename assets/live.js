/*
 * The live screen: the page's live model (assets/live_model.js) fed by the Socket.IO
 * feed, drawn through assets/map_bridge.js.
 *
 * A screen starts from /live/snapshot (the open cases of its area and the feed position
 * they reflect) and applies every feed batch in order, one at a time. A batch that
 * starts beyond the applied position (the socket component keeps only its latest
 * message) makes it fetch /live/feed?since=<upto>; when the server no longer has those
 * entries it takes a fresh snapshot. Each change reaches the map as a diff of the live
 * source (add, update, remove by case id), never a plotly redraw; the counters, the
 * ticker, the sub-area colours and the hexagons follow the model's counts.
 */
(function () {
  "use strict";
  var TICKER_ROWS = 12;
  var RECOLOUR_EVERY_MS = 2000;  // sub-areas and hexagons follow the counts this often
  var LATENCIES_KEPT = 500;
  var screens = {};  // graph id -> Screen: one per map on the page

  function noUpdate() { return window.dash_clientside.no_update; }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }

  var formats = {};
  function hm(iso, lang, tz) {
    if (window.gridwatchTime && typeof window.gridwatchTime.hm === "function") {
      return window.gridwatchTime.hm(iso, lang, tz);
    }
    var key = lang + "|" + tz;
    if (!formats[key]) {
      formats[key] = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "zh-CN",
        { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
    return formats[key].format(new Date(iso));
  }

  function ageText(iso, words, now) {
    var hours = (now - Date.parse(iso)) / 3600000;
    if (!(hours >= 0)) { return "—"; }
    if (hours < 1) { return Math.max(1, Math.round(hours * 60)) + " " + words.minutes; }
    if (hours < 48) { return (Math.round(hours * 10) / 10) + " " + words.hours; }
    return Math.round(hours / 24) + " " + words.days;
  }

  function hoverText(words, p, now) {
    var category = words.categories[p.category] || p.category;
    return "<b>" + escapeHtml(words.case) + " #" + p.id + "</b> · " +
      escapeHtml(words.severities[String(p.severity)] || p.severity) + "<br>" +
      escapeHtml(category) + "<br>" +
      escapeHtml(words.status) + ": " + escapeHtml(words.statuses[p.status] || p.status) +
      " · " + escapeHtml(p.overdue ? words.overdue : words.on_time) + "<br>" +
      escapeHtml(words.age) + ": " + escapeHtml(ageText(p.reported_at, words, now)) + "<br>" +
      escapeHtml(words.assigned) + ": " + escapeHtml(p.assigned ? "✓" : words.unassigned) +
      "<br>" + escapeHtml(words.reports) + ": " + p.reports;
  }

  function rootScale() {
    var px = parseFloat(window.getComputedStyle(document.documentElement).fontSize);
    return px > 0 ? px / 16 : 1;
  }

  // The wall's markers grow with its screen as its text does (assets/wall.css).
  function scaledSpecs(config) {
    if (!config.scaleWithRoot) { return config.layers; }
    var factor = rootScale();
    function scale(value) {
      if (typeof value === "number") { return value * factor; }
      if (Array.isArray(value)) {
        // ["case", condition, a, b]: scale the outputs, not the condition.
        return value.map(function (v, i) { return i >= 2 && typeof v === "number" ? v * factor : v; });
      }
      return value;
    }
    return config.layers.map(function (spec) {
      var paint = Object.assign({}, spec.paint);
      ["circle-radius", "circle-stroke-width"].forEach(function (key) {
        if (key in paint) { paint[key] = scale(paint[key]); }
      });
      return Object.assign({}, spec, { paint: paint });
    });
  }

  function Screen(config, gd) {
    var counts = config.counts || {};
    this.config = config;
    this.gd = gd;
    this.model = new window.GridWatchLiveModel.Model({
      scope: config.scope, limit: config.limit,
      childColumn: counts.children ? counts.children.column : null,
      hexResolution: counts.hexes ? counts.hexes.resolution : null
    });
    this.specs = scaledSpecs(config);
    this.ready = false;
    this.chain = Promise.resolve();
    this.needsFull = true;
    this.ticker = (config.tickerStart || []).slice(0, TICKER_ROWS);
    this.shown = {};  // KPI id -> text last set
    this.recolouredAt = 0;
    this.countsKey = "";
    this.stats = { batches: 0, gaps: 0, catchUps: 0, snapshots: 0, outOfScope: 0,
                   latencies: [] };
    this.grid = config.grid || null;
    this.gridIds = new Set(this.grid ? this.grid.ids : []);
    this.gridTotal = this.grid ? this.grid.total : 0;
    var self = this;
    this.handlers = {
      hover: function (p) { return hoverText(config.words, p, Date.now()); },
      click: function (id) {
        window.dash_clientside.set_props("case-selected", { data: { id: id, n: Date.now() / 1000 } });
      }
    };
    this.run(function () { return self.loadSnapshot(); });
  }

  /* Run `step` after every step before it: batches apply one at a time, in order. */
  Screen.prototype.run = function (step) {
    var self = this;
    this.chain = this.chain.then(step).catch(function (err) {
      self.stats.lastError = String(err && err.message || err);
    });
    return this.chain;
  };

  Screen.prototype.loadSnapshot = function () {
    var self = this;
    this.snapshotAt = Date.now();
    return fetch("/live/snapshot?area=" + encodeURIComponent(this.config.area),
                 { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("snapshot answered " + response.status); }
        return response.json();
      })
      .then(function (shot) {
        self.model.reset(shot, Date.now());
        self.stats.snapshots += 1;
        self.ready = true;
        self.needsFull = true;
        self.draw({ add: [], update: [], remove: [] });
        // The table was rendered before this snapshot: re-read every row either holds.
        return self.refreshRows(Array.from(self.gridIds).concat(self.model.ids()));
      });
  };

  /*
   * The console's table: re-read the rows of `ids` under the page's filters and add,
   * update or remove them in place (AG Grid's transaction: sort and selection stay).
   */
  Screen.prototype.refreshRows = function (ids) {
    if (!this.grid || !ids.length) { return Promise.resolve(); }
    var unique = Array.from(new Set(ids));
    var self = this;
    var chunks = [];
    for (var i = 0; i < unique.length; i += 1000) { chunks.push(unique.slice(i, i + 1000)); }
    return chunks.reduce(function (previous, chunk) {
      return previous.then(function () { return self.refreshChunk(chunk); });
    }, Promise.resolve());
  };

  Screen.prototype.refreshChunk = function (ids) {
    var self = this;
    var query = Object.assign({}, this.grid.query, { ids: ids.join(",") });
    var url = "/live/rows?" + new URLSearchParams(query).toString();
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("rows answered " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        var matching = new Map();
        answer.rows.forEach(function (row) { matching.set(row.id, row); });
        var tx = { add: [], update: [], remove: [] };
        answer.ids.forEach(function (id) {
          var row = matching.get(id);
          if (row) {
            (self.gridIds.has(id) ? tx.update : tx.add).push(row);
            self.gridIds.add(id);
          } else if (self.gridIds.has(id)) {
            tx.remove.push({ id: id });
            self.gridIds.delete(id);
          }
        });
        if (!tx.add.length && !tx.update.length && !tx.remove.length) { return; }
        self.gridTotal += tx.add.length - tx.remove.length;
        window.dash_clientside.set_props(self.grid.id, { rowTransaction: tx });
        if (self.grid.count && document.getElementById(self.grid.count)) {
          var locale = self.config.lang === "en" ? "en-US" : "zh-CN";
          window.dash_clientside.set_props(self.grid.count, {
            children: self.grid.countText
              .replace("{shown}", self.gridIds.size.toLocaleString(locale))
              .replace("{total}", Math.max(self.gridTotal, self.gridIds.size).toLocaleString(locale))
          });
        }
        self.stats.rowsAt = Date.now();
      });
  };

  Screen.prototype.namedIds = function (entries) {
    var model = this.model;
    return (entries || []).filter(function (e) { return e.case && model.inScope(e.case); })
      .map(function (e) { return e.case.id; });
  };

  Screen.prototype.catchUp = function () {
    var self = this;
    this.stats.catchUps += 1;
    // Until it succeeds, the tick tries again (a reconnect can come before the network
    // is really back, and no other batch may come to show the gap).
    this.catchUpDue = true;
    return fetch("/live/feed?since=" + this.model.upto, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("catch-up answered " + response.status); }
        return response.json();
      })
      .then(function (missed) {
        self.catchUpDue = false;
        if (missed.reload) { return self.loadSnapshot(); }
        var out = self.model.apply({ after: missed.after, upto: missed.upto,
                                     entries: missed.entries }, Date.now());
        if (out.status === "gap") { return self.loadSnapshot(); }
        self.noteTicker(missed.entries);
        self.draw(out.diff);
        return self.refreshRows(self.namedIds(missed.entries));
      });
  };

  Screen.prototype.feed = function (batch) {
    var self = this;
    var received = Date.now();
    return this.run(function () {
      if (!self.ready) { return null; }  // the snapshot being loaded covers it, or a gap will
      var out = self.model.apply(batch, Date.now());
      self.stats.batches += 1;
      self.stats.outOfScope += batch.entries.filter(function (e) {
        return e.case && !self.model.inScope(e.case);
      }).length;
      if (out.status === "gap") {
        self.stats.gaps += 1;
        return self.catchUp();
      }
      if (out.status !== "applied") { return null; }
      self.noteTicker(batch.entries);
      self.draw(out.diff);
      self.noteLatency(batch, received);
      return self.refreshRows(self.namedIds(batch.entries));
    });
  };

  Screen.prototype.noteLatency = function (batch, received) {
    if (typeof batch.sent !== "number") { return; }
    var applied = Date.now();
    var entry = { upto: batch.upto, sent: batch.sent, received: received, applied: applied,
                  drawn: null };
    var list = this.stats.latencies;
    list.push(entry);
    if (list.length > LATENCIES_KEPT) { list.shift(); }
    var map = window.GridWatchMap.mapOf(this.gd);
    if (map) {
      map.once("idle", function () { entry.drawn = Date.now(); });
    }
    window.gridwatchLive = entry;  // the newest batch's timing (bench/drawn_bench.py)
  };

  Screen.prototype.noteTicker = function (entries) {
    if (!this.config.ticker) { return; }
    var model = this.model;
    var rows = this.ticker;
    (entries || []).forEach(function (e) {
      if (e.kind === "new" && e.case && model.inScope(e.case)) {
        rows.unshift({ id: e.case.id, category: e.case.category, severity: e.case.severity,
                       status: e.case.status, at: e.case.reported_at });
      }
    });
    if (rows.length > TICKER_ROWS) { rows.length = TICKER_ROWS; }
    this.tickerChanged = true;
  };

  Screen.prototype.draw = function (diff) {
    var bridge = window.GridWatchMap;
    var state = bridge.ensureLive(this.gd, this.specs, this.handlers);
    if (state === null) { this.needsFull = true; return; }
    if (state === "created" || this.needsFull) {
      bridge.setAll(this.gd, this.model.features(Date.now()));
      this.needsFull = false;
      return;
    }
    bridge.applyDiff(this.gd, diff);
  };

  /* Once a second: what time alone changes, the counters, the colours. */
  Screen.prototype.tick = function () {
    var self = this;
    return this.run(function () {
      if (!self.ready) {
        // The snapshot failed (the network dropped as the page opened): try again.
        if (Date.now() - (self.snapshotAt || 0) > 2000) {
          self.snapshotAt = Date.now();
          return self.loadSnapshot();
        }
        return;
      }
      if (self.catchUpDue && Date.now() - (self.catchUpAt || 0) > 2000) {
        self.catchUpAt = Date.now();
        return self.catchUp();
      }
      var now = Date.now();
      var timed = self.model.tick(now);
      self.draw(timed);
      self.showCounts(now);
      if (now - self.recolouredAt >= RECOLOUR_EVERY_MS) { self.recolour(now); }
      if (self.tickerChanged) { self.showTicker(); }
      // A case that just went overdue changes its row (and the "overdue" filter).
      var late = timed.update.filter(function (f) { return f.properties.overdue; });
      return self.refreshRows(late.map(function (f) { return f.id; }));
    });
  };

  Screen.prototype.showCounts = function (now) {
    var counts = this.model.counts(now);
    var locale = this.config.lang === "en" ? "en-US" : "zh-CN";
    var kpis = this.config.kpis || {};
    var self = this;
    Object.keys(kpis).forEach(function (key) {
      var value = counts[key];
      if (value === null || value === undefined) { return; }
      var text = value.toLocaleString(locale);
      if (self.shown[kpis[key]] !== text && document.getElementById(kpis[key])) {
        self.shown[kpis[key]] = text;
        window.dash_clientside.set_props(kpis[key], { children: text });
      }
    });
  };

  Screen.prototype.recolour = function (now) {
    var counts = this.config.counts || {};
    var model = this.model;
    if (!model.complete) { return; }  // counts of a partial model would be too low
    var byChild = counts.children ? model.byChild(now) : null;
    var byCell = counts.hexes ? model.byCell() : null;
    var key = JSON.stringify([byChild, byCell]);
    if (key === this.countsKey) { this.recolouredAt = now; return; }
    var bridge = window.GridWatchMap;
    var done = true;
    if (byChild) {
      var c = counts.children;
      var values = {};
      Object.keys(c.codes).forEach(function (id) {
        var row = byChild[id] || { open: 0, overdue: 0 };
        var v = c.metric === "overdue" ? row.overdue : row.open;
        if (c.metric === "per_1000") {
          var pop = c.population[id];
          v = pop ? Math.round(row.open * 1000000 / pop) / 1000 : 0;
        }
        values[c.codes[id]] = v;
      });
      done = bridge.recolour(this.gd, c.uid, values, { missing: 0 }) >= 0 && done;
    }
    if (byCell) {
      bridge.recolour(this.gd, counts.hexes.uid, byCell, {
        missing: 0, opacity: 0.72, hidden: function (z) { return !z; }
      });
    }
    if (done) { this.countsKey = key; }
    this.recolouredAt = now;
  };

  Screen.prototype.showTicker = function () {
    this.tickerChanged = false;
    var id = this.config.ticker;
    if (!id || !document.getElementById(id) || !this.ticker.length) { return; }
    var config = this.config;
    var children = this.ticker.map(function (row) {
      var name = config.words.categories[row.category] || row.category;
      return {
        namespace: "dash_html_components", type: "Li",
        props: {
          className: "gw-ticker-row sev-" + row.severity + (row.status === "merged" ? " merged" : ""),
          "data-case": String(row.id),
          children: [
            { namespace: "dash_html_components", type: "Span",
              props: { className: "gw-ticker-time", children: hm(row.at, config.lang, config.tz) } },
            { namespace: "dash_html_components", type: "Span",
              props: { className: "gw-ticker-name", children: name } },
            { namespace: "dash_html_components", type: "Span",
              props: { className: "gw-ticker-id", children: "#" + row.id } }
          ]
        }
      };
    });
    window.dash_clientside.set_props(id, { children: children });
  };

  /* The screen for `config` on its graph; a new page (or a new figure div) starts anew. */
  function screenFor(config) {
    if (!config || !config.graph || !window.GridWatchLiveModel || !window.GridWatchMap) {
      return null;
    }
    var gd = document.querySelector("#" + config.graph + " .js-plotly-plot");
    if (!gd) { return null; }
    var screen = screens[config.graph];
    if (screen && screen.gd === gd && screen.config === config) { return screen; }
    if (screen && screen.gd === gd && screen.config.area === config.area &&
        screen.config.lang === config.lang) {
      // The same screen; the server's periodic figures may have come with it.
      if (config.rebase && config.rebase !== screen.config.rebase) {
        var rebase = config.rebase;
        screen.run(function () { screen.model.rebase(rebase); });
      }
      screen.config = config;
      return screen;
    }
    screens[config.graph] = new Screen(config, gd);
    return screens[config.graph];
  }

  window.GridWatchLive = {
    screen: function (graph) { return screens[graph || "map-graph"] || null; },
    screens: screens
  };

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatch: {
      applyFeed: function (batch, _tick, connected, config) {
        var ctx = window.dash_clientside.callback_context;
        var trigger = ctx.triggered.length ? ctx.triggered[0].prop_id : "";
        var lang = config && config.lang === "en" ? "en" : "zh";
        var status = connected ? (lang === "en" ? "live" : "实时")
                               : (lang === "en" ? "offline" : "已断开");
        var screen = screenFor(config);
        if (!screen) { return status; }
        if (trigger.indexOf("data-feed") >= 0 && batch) {
          screen.feed(batch);
        } else if (trigger.indexOf("connected") >= 0) {
          // (Re)connected: what happened while away, or since the snapshot was read. The
          // chain runs this after the snapshot, whichever finishes first.
          if (connected) { screen.run(function () { return screen.catchUp(); }); }
        } else {
          screen.tick();
        }
        return status;
      },

      // The case panel re-reads its case when a feed batch names it (another screen or
      // a terminal acted), keeping the last action's message.
      refreshCase: function (batch, selection) {
        if (!batch || !selection || !batch.entries) { return noUpdate(); }
        var named = batch.entries.some(function (e) {
          return e.case && e.case.id === selection.id;
        });
        return named ? Object.assign({}, selection, { n: Date.now() }) : noUpdate();
      }
    }
  });
})();
