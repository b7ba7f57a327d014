/*
 * The live model of one screen: the open cases it shows, keyed by id, kept equal to the
 * case store by the feed.
 *
 * It starts from a snapshot tagged with the feed position it reflects (`upto`), then
 * applies feed batches in order. A batch that starts beyond the position applied means
 * entries were missed: `apply` says "gap" and changes nothing, and the adapter fetches
 * what was missed (or a fresh snapshot when the server no longer has it). Each applied
 * batch returns the diff to draw: features to add and update, ids to remove.
 *
 * No DOM here: the map adapter (assets/live.js) draws the diffs, and `node --test`
 * (tests/js/live_model.test.mjs) runs this file as it is.
 */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) { module.exports = api; }
  if (root) { root.GridWatchLiveModel = api; }
})(typeof window !== "undefined" ? window : null, function () {
  "use strict";

  var CLOSED = { closed: true, rejected: true, merged: true };
  var FRESH_MS = 5000;  // a new report's ring pulses this long
  var NEW_SEQS_KEPT = 5000;  // feed positions of recent reports, for "new today"

  function isOpen(c) { return !CLOSED[c.status]; }

  function parseTime(value) {
    if (value === null || value === undefined) { return null; }
    var t = Date.parse(value);
    return isNaN(t) ? null : t;
  }

  /*
   * The parent of an H3 cell (hex string) at a coarser resolution: the resolution in
   * bits 52-55, every finer digit (3 bits each) set to 7. For the city map's resolution
   * 6, which the feed does not carry.
   */
  function h3Parent(cell, resolution) {
    if (typeof BigInt !== "function") { return null; }
    var h = BigInt("0x" + cell);
    var current = Number((h >> 52n) & 15n);
    if (resolution >= current) { return cell; }
    h = (h & ~(15n << 52n)) | (BigInt(resolution) << 52n);
    for (var r = resolution + 1; r <= 15; r++) {
      h |= 7n << BigInt((15 - r) * 3);
    }
    return h.toString(16);
  }

  /*
   * options: scope {column, id} (the area a screen shows: only its cases are kept),
   * limit (most cases kept), childColumn ("street_id"...: sub-area counts by it),
   * hexResolution (6-12: hexagon counts), freshMs.
   */
  function Model(options) {
    options = options || {};
    this.scope = options.scope || null;
    this.limit = options.limit || 2000;
    this.childColumn = options.childColumn || null;
    this.hexResolution = options.hexResolution || null;
    this.freshMs = options.freshMs === undefined ? FRESH_MS : options.freshMs;
    this.cases = new Map();
    this.upto = 0;
    this.complete = true;
    this.base = { open: null, new_today: null, upto: 0 };
    this.newSeqs = [];
    this.drawnOverdue = new Map();  // id -> overdue flag as last drawn
    this.freshUntil = new Map();  // id -> time its pulse ends
  }

  Model.prototype.inScope = function (c) {
    return !this.scope || c[this.scope.column] === this.scope.id;
  };

  /* Whether the screen shows `c` at all: open and in its area. */
  Model.prototype.shows = function (c) {
    return isOpen(c) && this.inScope(c);
  };

  /*
   * Start again from a snapshot: {upto, cases: [payload...], complete, open, new_today}.
   * Returns the diff from what was drawn before (everything removed, then added).
   */
  Model.prototype.reset = function (snapshot, now) {
    var removed = Array.from(this.cases.keys());
    this.cases = new Map();
    this.drawnOverdue = new Map();
    this.freshUntil = new Map();
    this.upto = snapshot.upto || 0;
    this.complete = snapshot.complete !== false;
    this.base = {
      open: snapshot.open === undefined ? null : snapshot.open,
      new_today: snapshot.new_today === undefined ? null : snapshot.new_today,
      upto: this.upto
    };
    this.newSeqs = [];
    var self = this;
    (snapshot.cases || []).forEach(function (c) {
      if (self.shows(c)) { self.cases.set(c.id, c); }
    });
    var added = [];
    this.cases.forEach(function (c) { added.push(self.feature(c, now)); });
    return { add: added, update: [], remove: removed, reset: true };
  };

  /*
   * Apply one feed batch {after, upto, entries: [{seq, kind, case}]}.
   * Returns {status: "applied" | "stale" | "gap", diff}. "gap": the batch starts beyond
   * what this model has applied; nothing changed, catch up first.
   */
  Model.prototype.apply = function (batch, now) {
    var empty = { add: [], update: [], remove: [] };
    if (!batch || !Array.isArray(batch.entries)) { return { status: "stale", diff: empty }; }
    if (typeof batch.after === "number" && batch.after > this.upto) {
      return { status: "gap", diff: empty };
    }
    if (typeof batch.upto === "number" && batch.upto <= this.upto) {
      return { status: "stale", diff: empty };
    }
    var touched = new Set();
    var self = this;
    batch.entries.forEach(function (entry) {
      if (!entry || entry.seq <= self.upto || !entry.case) { return; }
      var c = entry.case;
      if (entry.kind === "new" && c.status !== "merged" && self.inScope(c)) {
        self.newSeqs.push(entry.seq);
        if (self.newSeqs.length > NEW_SEQS_KEPT) { self.newSeqs.shift(); }
        self.freshUntil.set(c.id, now + self.freshMs);
      }
      if (self.shows(c)) {
        self.cases.set(c.id, c);
      } else {
        self.cases.delete(c.id);
        self.freshUntil.delete(c.id);
      }
      touched.add(c.id);
    });
    this.upto = Math.max(this.upto, batch.upto || 0);
    // Compare with what is drawn: the last entry of each case decides.
    var diff = { add: [], update: [], remove: [] };
    touched.forEach(function (id) {
      var c = self.cases.get(id);
      if (c) {
        var drawn = self.wasDrawn(id);
        (drawn ? diff.update : diff.add).push(self.feature(c, now));
      } else if (self.wasDrawn(id)) {
        diff.remove.push(id);
        self.drawnOverdue.delete(id);
      }
    });
    this.trim(diff);
    return { status: "applied", diff: diff };
  };

  Model.prototype.wasDrawn = function (id) { return this.drawnOverdue.has(id); };

  /* Over the limit: drop the least urgent (highest severity number, latest due). */
  Model.prototype.trim = function (diff) {
    if (this.cases.size <= this.limit) { return; }
    var ranked = Array.from(this.cases.values()).sort(function (a, b) {
      return (b.severity - a.severity) || ((parseTime(b.due_at) || 0) - (parseTime(a.due_at) || 0));
    });
    var drop = ranked.slice(0, this.cases.size - this.limit);
    var self = this;
    var dropped = new Set();
    drop.forEach(function (c) { self.cases.delete(c.id); dropped.add(c.id); });
    var adding = new Set(diff.add.map(function (f) { return f.id; }));
    dropped.forEach(function (id) {
      if (!self.drawnOverdue.has(id)) { return; }
      if (!adding.has(id)) { diff.remove.push(id); }
      self.drawnOverdue.delete(id);
    });
    diff.add = diff.add.filter(function (f) { return !dropped.has(f.id); });
    diff.update = diff.update.filter(function (f) { return !dropped.has(f.id); });
    this.complete = false;
  };

  Model.prototype.overdue = function (c, now) {
    var due = parseTime(c.due_at);
    return due !== null && due <= now;
  };

  /* The GeoJSON feature a case is drawn as; records what was drawn. */
  Model.prototype.feature = function (c, now) {
    var overdue = this.overdue(c, now);
    this.drawnOverdue.set(c.id, overdue);
    var fresh = (this.freshUntil.get(c.id) || 0) > now;
    return {
      type: "Feature",
      id: c.id,
      geometry: { type: "Point", coordinates: [c.lon, c.lat] },
      properties: {
        id: c.id, severity: c.severity, status: c.status, category: c.category,
        overdue: overdue, fresh: fresh, reports: c.report_count || 1,
        reported_at: c.reported_at, due_at: c.due_at,
        level: c.handling_level || null, assigned: c.assignee_id ? true : false
      }
    };
  };

  /*
   * What time alone changed since the last draw: cases whose due time has passed (the
   * overdue ring appears with no server round trip) and pulses that ended.
   */
  Model.prototype.tick = function (now) {
    var update = [];
    var self = this;
    this.cases.forEach(function (c, id) {
      var drawn = self.drawnOverdue.get(id);
      var fresh = self.freshUntil.get(id);
      var pulseEnded = fresh !== undefined && fresh <= now;
      if (pulseEnded) { self.freshUntil.delete(id); }
      if ((drawn !== undefined && drawn !== self.overdue(c, now)) || pulseEnded) {
        update.push(self.feature(c, now));
      }
    });
    return { add: [], update: update, remove: [] };
  };

  /* Every case as features (a full draw, after the map's style was rebuilt). */
  Model.prototype.features = function (now) {
    var out = [];
    var self = this;
    this.cases.forEach(function (c) { out.push(self.feature(c, now)); });
    return out;
  };

  /* The counters a screen shows: open, overdue now, new today. */
  Model.prototype.counts = function (now) {
    var overdue = 0;
    var self = this;
    this.cases.forEach(function (c) { if (self.overdue(c, now)) { overdue += 1; } });
    var baseUpto = this.base.upto;
    var newSince = this.newSeqs.filter(function (s) { return s > baseUpto; }).length;
    return {
      open: this.complete ? this.cases.size : this.base.open,
      overdue: this.complete ? overdue : null,
      new_today: this.base.new_today === null ? null : this.base.new_today + newSince
    };
  };

  /* The server's figures as of feed position `upto` (a periodic refresh): new base. */
  Model.prototype.rebase = function (figures) {
    if (typeof figures.upto !== "number") { return; }
    this.base = {
      open: figures.open === undefined ? this.base.open : figures.open,
      new_today: figures.new_today === undefined ? this.base.new_today : figures.new_today,
      upto: figures.upto
    };
    var upto = figures.upto;
    this.newSeqs = this.newSeqs.filter(function (s) { return s > upto; });
  };

  /* Open and overdue cases per sub-area id (the choropleth's live counts). */
  Model.prototype.byChild = function (now) {
    var out = {};
    var column = this.childColumn;
    if (!column) { return out; }
    var self = this;
    this.cases.forEach(function (c) {
      var key = c[column];
      if (key === null || key === undefined) { return; }
      var row = out[key] || (out[key] = { open: 0, overdue: 0 });
      row.open += 1;
      if (self.overdue(c, now)) { row.overdue += 1; }
    });
    return out;
  };

  /* Open cases per H3 cell at the model's hexagon resolution. */
  Model.prototype.byCell = function () {
    var out = {};
    var res = this.hexResolution;
    if (!res) { return out; }
    this.cases.forEach(function (c) {
      var cells = c.h3;  // resolutions 7 to 12, hex strings
      if (!Array.isArray(cells)) { return; }
      var cell = res >= 7 ? cells[res - 7] : (cells[0] ? h3Parent(cells[0], res) : null);
      if (cell) { out[cell] = (out[cell] || 0) + 1; }
    });
    return out;
  };

  Model.prototype.ids = function () {
    return Array.from(this.cases.keys()).sort(function (a, b) { return a - b; });
  };

  return { Model: Model, isOpen: isOpen, h3Parent: h3Parent };
});
