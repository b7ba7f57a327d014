/*
 * Live updates on the map page, applied in the browser.
 *
 * Each Socket.IO "feed" batch carries entries (seq, kind, case) and the feed range
 * (after, upto] it covers for this screen's room. The page remembers the position it
 * has applied (state.upto); a batch that starts beyond it means something was missed
 * (the socket component keeps only the latest message), so the page fetches
 * /live/feed?since=<upto> instead. New cases in the viewed area become markers on the
 * "new reports" trace, with a ring pulsing for a few seconds; the ticker lists the
 * latest. At most state.limit markers are kept, so a wall screen's memory stays bounded.
 */
(function () {
  "use strict";
  var PULSE_MS = 5000;
  var TICKER_ROWS = 12;
  var OPEN = { closed: false, rejected: false, merged: false };
  // Redrawing the map costs its main thread about 220 ms on a machine without a GPU
  // (BENCHMARKS.md, emit-to-drawn). Patching it on every batch of a busy feed asks for
  // more drawing than the page can do: the unfinished redraws pile up and the heap grows
  // while a wall runs. So the figure is patched at most once a DRAW_EVERY_MS, and not
  // while plotly is still drawing the last patch; a batch arriving meanwhile updates the
  // state, ticker and counters at once and leaves the markers for the next tick.
  var DRAW_EVERY_MS = 1000;
  var DRAW_STUCK_MS = 5000;  // no plotly_afterplot this long after a patch: draw anyway
  var draw = { at: 0, busy: false, pending: false, graph: null };

  function watchDrawing() {
    var gd = document.querySelector("#map-graph .js-plotly-plot");
    if (gd && gd !== draw.graph && typeof gd.on === "function") {
      draw.graph = gd;  // a new page or figure div: listen once, the old one is gone
      gd.on("plotly_afterplot", function () { draw.busy = false; });
    }
  }

  function mayDraw(now) {
    watchDrawing();
    if (draw.busy && now - draw.at < DRAW_STUCK_MS) { return false; }
    return now - draw.at >= DRAW_EVERY_MS;
  }

  function drawn(now) {
    draw.at = now;
    draw.busy = draw.graph !== null;
    draw.pending = false;
  }

  function open_(c) { return OPEN[c.status] === undefined; }

  function inScope(state, c) {
    return !state.scope || c[state.scope.column] === state.scope.id;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  }

  function hover(state, c) {
    var en = state.lang === "en";
    var name = state.categories[c.category] || c.category;
    return "<b>" + (en ? "Case #" : "案件 #") + c.id + "</b> · " + (en ? "new" : "新上报") +
      "<br>" + escapeHtml(name) + "<br>" + (en ? "Severity " : "等级 ") + c.severity;
  }

  function merge(state, entries, now) {
    var points = state.points.slice();
    var ticker = state.ticker.slice();
    var open = state.open, newToday = state.new_today;
    var byId = {};
    points.forEach(function (p, i) { byId[p.id] = i; });
    entries.forEach(function (e) {
      var c = e.case;
      if (!inScope(state, c)) { return; }
      var isOpen = open_(c);
      if (e.kind === "new" && c.status !== "merged") {
        if (open !== null && open !== undefined) { open += 1; }
        if (newToday !== null && newToday !== undefined) { newToday += 1; }
      } else if (e.kind !== "new" && !open_(c) && byId[c.id] !== undefined) {
        if (open !== null && open !== undefined) { open -= 1; }
      }
      if (e.kind === "new") {
        ticker.unshift({ id: c.id, category: c.category, severity: c.severity,
                         status: c.status, at: c.reported_at, seq: e.seq });
      }
      if (byId[c.id] !== undefined) {
        if (!isOpen) { points[byId[c.id]] = null; }
        return;
      }
      if (e.kind === "new" && isOpen) {
        byId[c.id] = points.length;
        points.push({ id: c.id, lon: c.lon, lat: c.lat, severity: c.severity,
                      category: c.category, seen: now });
      }
    });
    points = points.filter(function (p) { return p !== null; });
    if (points.length > state.limit) { points = points.slice(points.length - state.limit); }
    return { points: points, ticker: ticker.slice(0, TICKER_ROWS), open: open,
             new_today: newToday };
  }

  function patchFor(state, now) {
    var patch = new window.dash_clientside.Patch();
    var pts = state.points;
    var pulsing = pts.filter(function (p) { return now - p.seen < PULSE_MS; });
    var live = state.trace + 1;
    patch.assign(["data", state.trace, "lon"], pulsing.map(function (p) { return p.lon; }));
    patch.assign(["data", state.trace, "lat"], pulsing.map(function (p) { return p.lat; }));
    patch.assign(["data", live, "lon"], pts.map(function (p) { return p.lon; }));
    patch.assign(["data", live, "lat"], pts.map(function (p) { return p.lat; }));
    patch.assign(["data", live, "customdata"], pts.map(function (p) { return ["case", p.id]; }));
    patch.assign(["data", live, "hovertext"], pts.map(function (p) { return hover(state, p); }));
    return patch.build();
  }

  function tickerRows(state) {
    var en = state.lang === "en";
    if (!state.ticker.length) { return window.dash_clientside.no_update; }
    return state.ticker.map(function (row) {
      var name = state.categories[row.category] || row.category;
      var time = new Date(row.at).toLocaleTimeString(en ? "en-GB" : "zh-CN",
                                                     { hour: "2-digit", minute: "2-digit" });
      return {
        namespace: "dash_html_components", type: "Li",
        props: {
          className: "gw-ticker-row sev-" + row.severity + (row.status === "merged" ? " merged" : ""),
          "data-case": String(row.id),
          children: [
            { namespace: "dash_html_components", type: "Span",
              props: { className: "gw-ticker-time", children: time } },
            { namespace: "dash_html_components", type: "Span",
              props: { className: "gw-ticker-name", children: name } },
            { namespace: "dash_html_components", type: "Span",
              props: { className: "gw-ticker-id", children: "#" + row.id } }
          ]
        }
      };
    });
  }

  async function catchUp(state) {
    var response = await fetch("/live/feed?since=" + state.upto, { credentials: "same-origin" });
    if (!response.ok) { return null; }
    return response.json();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatch: {
      applyFeed: async function (batch, _tick, connected, state) {
        var noUpdate = window.dash_clientside.no_update;
        var ctx = window.dash_clientside.callback_context;
        var trigger = ctx.triggered.length ? ctx.triggered[0].prop_id : "";
        var now = Date.now();
        var status = connected ? (state.lang === "en" ? "live" : "实时")
                               : (state.lang === "en" ? "offline" : "已断开");
        if (!state || state.trace === null || state.trace === undefined) {
          return [noUpdate, noUpdate, noUpdate, status, noUpdate, noUpdate];
        }
        var entries = [];
        var upto = state.upto;
        if (trigger.indexOf("data-feed") >= 0 && batch) {
          // Delivery timing, read by bench/drawn_bench.py (same machine, one clock).
          window.gridwatchLive = { sent: batch.sent, received: now, upto: batch.upto };
          if (batch.after > state.upto || batch.reload) {
            var missed = await catchUp(state);
            if (missed && missed.reload) { window.location.reload(); }
            if (missed) { entries = missed.entries; upto = missed.upto; }
          } else if (batch.upto > state.upto) {
            entries = batch.entries.filter(function (e) { return e.seq > state.upto; });
            upto = batch.upto;
          }
        } else if (trigger.indexOf("connected") >= 0 && connected) {
          var back = await catchUp(state);  // reconnected: fetch what happened meanwhile
          if (back) { entries = back.entries; upto = back.upto; }
        } else if (trigger.indexOf("n_intervals") >= 0) {
          var stillPulsing = state.points.some(function (p) { return now - p.seen < PULSE_MS + 1500; });
          if (!(stillPulsing || draw.pending) || !mayDraw(now)) {
            return [noUpdate, noUpdate, noUpdate, status, noUpdate, noUpdate];
          }
          drawn(now);
          return [patchFor(state, now), noUpdate, noUpdate, status, noUpdate, noUpdate];
        }
        if (!entries.length && upto === state.upto) {
          return [noUpdate, noUpdate, noUpdate, status, noUpdate, noUpdate];
        }
        var merged = merge(state, entries, now);
        var next = Object.assign({}, state, { upto: upto, points: merged.points,
                                               ticker: merged.ticker, open: merged.open,
                                               new_today: merged.new_today });
        var locale = state.lang === "en" ? "en-US" : "zh-CN";
        var fmt = function (n) { return n === null || n === undefined ? noUpdate : n.toLocaleString(locale); };
        var figure = noUpdate;
        if (mayDraw(now)) {
          figure = patchFor(next, now);
          drawn(now);
        } else {
          draw.pending = true;  // the next tick draws what this batch brought
        }
        return [figure, next, tickerRows(next), status, fmt(next.open), fmt(next.new_today)];
      },

      // The case panel re-reads its case when a feed batch names it (another screen or
      // a terminal acted), keeping the last action's message.
      refreshCase: function (batch, selection) {
        var noUpdate = window.dash_clientside.no_update;
        if (!batch || !selection || !batch.entries) { return noUpdate; }
        var named = batch.entries.some(function (e) {
          return e.case && e.case.id === selection.id;
        });
        return named ? Object.assign({}, selection, { n: Date.now() }) : noUpdate;
      }
    }
  });
})();
