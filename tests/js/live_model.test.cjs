// The live model (assets/live_model.js) under Node's own test runner.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { Model, h3Parent } = require("../../assets/live_model.js");

const T0 = Date.parse("2026-12-04T02:00:00Z");
const HOUR = 3600 * 1000;

function kase(id, extra) {
  return Object.assign({
    id, lon: 104.1, lat: 30.66, category: "E0102", severity: 3, status: "reported",
    reported_at: new Date(T0 - HOUR).toISOString(),
    due_at: new Date(T0 + HOUR).toISOString(),
    report_count: 1, street_id: 10, community_id: 100 + (id % 2), grid_id: 1000 + id,
    h3: ["872a1072bffffff", "882a1072b1fffff", "892a1072b03ffff", "8a2a1072b007fff",
         "8b2a1072b000fff", "8c2a1072b0001ff"]
  }, extra || {});
}

function batch(after, entries) {
  const upto = entries.length ? entries[entries.length - 1].seq : after;
  return { after, upto, entries };
}

function snapshot(cases, upto) {
  return { upto, cases, complete: true, open: cases.length, new_today: 5 };
}

test("a snapshot draws its open cases in scope and nothing else", () => {
  const m = new Model({ scope: { column: "street_id", id: 10 } });
  const diff = m.reset(snapshot([kase(1), kase(2, { street_id: 11 }),
                                 kase(3, { status: "closed" })], 40), T0);
  assert.deepEqual(diff.add.map((f) => f.id), [1]);
  assert.deepEqual(m.ids(), [1]);
  assert.equal(m.upto, 40);
});

test("every kind of change keeps the model equal to the store", () => {
  const m = new Model({ scope: { column: "street_id", id: 10 } });
  m.reset(snapshot([kase(1), kase(2)], 10), T0);
  const steps = [
    [11, "new", kase(3)],
    [12, "accept", kase(1, { status: "accepted" })],
    [13, "dispatch", kase(1, { status: "dispatched", assignee_id: 7 })],
    [14, "start", kase(1, { status: "in_progress" })],
    [15, "handle", kase(1, { status: "handled" })],
    [16, "verify", kase(1, { status: "verified" })],
    [17, "close", kase(1, { status: "closed" })],
    [18, "reject", kase(2, { status: "rejected" })],
    [19, "reopen", kase(1, { status: "reopened" })],
    [20, "escalate", kase(1, { status: "escalated", handling_level: "street" })],
    [21, "reassign", kase(1, { status: "dispatched", assignee_id: 8 })],
    [22, "merge", kase(3, { status: "merged" })]
  ];
  const expected = [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [2, 3],
                    [3], [1, 3], [1, 3], [1, 3], [1]];
  steps.forEach(([seq, kind, c], i) => {
    const out = m.apply(batch(seq - 1, [{ seq, kind, case: c }]), T0);
    assert.equal(out.status, "applied", kind);
    assert.deepEqual(m.ids(), expected[i], kind);
  });
  assert.equal(m.cases.get(1).status, "dispatched");
  assert.equal(m.cases.get(1).assignee_id, 8);
});

test("the diff adds, updates and removes by id against what is drawn", () => {
  const m = new Model();
  m.reset(snapshot([kase(1), kase(2)], 0), T0);
  const out = m.apply(batch(0, [
    { seq: 1, kind: "accept", case: kase(1, { status: "accepted", severity: 1 }) },
    { seq: 2, kind: "close", case: kase(2, { status: "closed" }) },
    { seq: 3, kind: "new", case: kase(3) },
    { seq: 4, kind: "new", case: kase(4) },
    { seq: 5, kind: "reject", case: kase(4, { status: "rejected" }) }
  ]), T0);
  assert.deepEqual(out.diff.update.map((f) => [f.id, f.properties.severity]), [[1, 1]]);
  assert.deepEqual(out.diff.remove, [2]);
  assert.deepEqual(out.diff.add.map((f) => f.id), [3]);  // 4 came and went in one batch
  assert.equal(out.diff.add[0].properties.fresh, true);
});

test("a reopened case enters the view again", () => {
  const m = new Model();
  m.reset(snapshot([], 0), T0);
  const out = m.apply(batch(0, [{ seq: 1, kind: "reopen", case: kase(9, { status: "reopened" }) }]), T0);
  assert.deepEqual(out.diff.add.map((f) => f.id), [9]);
});

test("a batch beyond the applied position is a gap and changes nothing", () => {
  const m = new Model();
  m.reset(snapshot([kase(1)], 10), T0);
  const out = m.apply(batch(12, [{ seq: 13, kind: "close", case: kase(1, { status: "closed" }) }]), T0);
  assert.equal(out.status, "gap");
  assert.deepEqual(m.ids(), [1]);
  assert.equal(m.upto, 10);
});

test("entries already applied are skipped (a catch-up overlapping a batch)", () => {
  const m = new Model();
  m.reset(snapshot([kase(1)], 10), T0);
  m.apply(batch(10, [{ seq: 11, kind: "close", case: kase(1, { status: "closed" }) }]), T0);
  const again = m.apply(batch(9, [
    { seq: 10, kind: "accept", case: kase(1, { status: "accepted" }) },
    { seq: 11, kind: "close", case: kase(1, { status: "closed" }) },
    { seq: 12, kind: "new", case: kase(2) }
  ]), T0);
  assert.equal(again.status, "applied");
  assert.deepEqual(m.ids(), [2]);
  assert.equal(m.upto, 12);
});

test("the overdue ring appears when due_at passes, with no feed entry", () => {
  const m = new Model();
  m.reset(snapshot([kase(1, { due_at: new Date(T0 + 1500).toISOString() })], 0), T0);
  assert.equal(m.features(T0)[0].properties.overdue, false);
  assert.deepEqual(m.tick(T0 + 1000).update, []);
  const later = m.tick(T0 + 2000);
  assert.deepEqual(later.update.map((f) => [f.id, f.properties.overdue]), [[1, true]]);
  assert.deepEqual(m.tick(T0 + 3000).update, []);  // drawn once, not again
  assert.equal(m.counts(T0 + 2000).overdue, 1);
});

test("a new report pulses, then the pulse ends by itself", () => {
  const m = new Model({ freshMs: 5000 });
  m.reset(snapshot([], 0), T0);
  m.apply(batch(0, [{ seq: 1, kind: "new", case: kase(5) }]), T0);
  assert.deepEqual(m.tick(T0 + 4000).update, []);
  const ended = m.tick(T0 + 5000).update;
  assert.deepEqual(ended.map((f) => [f.id, f.properties.fresh]), [[5, false]]);
});

test("counts follow the model, new today from the snapshot's figure", () => {
  const m = new Model();
  m.reset(snapshot([kase(1), kase(2, { due_at: new Date(T0 - 1).toISOString() })], 3), T0);
  m.apply(batch(3, [
    { seq: 4, kind: "new", case: kase(3) },
    { seq: 5, kind: "new", case: kase(4, { status: "merged" }) },  // a duplicate: not new
    { seq: 6, kind: "close", case: kase(1, { status: "closed" }) }
  ]), T0);
  assert.deepEqual(m.counts(T0), { open: 2, overdue: 1, new_today: 6 });
  m.rebase({ upto: 4, new_today: 20 });  // the server's figure at seq 4 includes case 3
  assert.equal(m.counts(T0).new_today, 20);
});

test("sub-area and hexagon counts come from the cases held", () => {
  const m = new Model({ childColumn: "community_id", hexResolution: 9 });
  m.reset(snapshot([kase(1), kase(2), kase(3, { due_at: new Date(T0 - 1).toISOString() })], 0), T0);
  assert.deepEqual(m.byChild(T0), { 100: { open: 0 + 1, overdue: 0 }, 101: { open: 2, overdue: 1 } });
  assert.deepEqual(m.byCell(), { "892a1072b03ffff": 3 });
});

test("the H3 parent matches h3's cell_to_parent", () => {
  // h3 (Python): cell_to_parent("872a1072bffffff", 6) == "862a1072fffffff"
  assert.equal(h3Parent("872a1072bffffff", 6), "862a1072fffffff");
  assert.equal(h3Parent("872a1072bffffff", 7), "872a1072bffffff");
});

test("over the limit the least urgent cases leave, the most severe stay", () => {
  const m = new Model({ limit: 2 });
  m.reset(snapshot([kase(1, { severity: 1 }), kase(2, { severity: 4 })], 0), T0);
  const out = m.apply(batch(0, [{ seq: 1, kind: "new", case: kase(3, { severity: 2 }) }]), T0);
  assert.deepEqual(m.ids(), [1, 3]);
  assert.deepEqual(out.diff.remove, [2]);
  assert.equal(m.complete, false);
  assert.equal(m.counts(T0).open, 2);  // base open from the snapshot: 2
});
