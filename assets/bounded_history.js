/*
 * Keep Dash's undo history bounded, so a screen left open for days does not grow.
 *
 * dash-renderer records every change of a callback input made in the browser (each
 * dcc.Interval tick, each Socket.IO feed batch with its payload) in its store's
 * history.past, for undo/redo, and never drops any: a wall with two 1-second ticks and
 * a live feed adds several entries a second, each copied into a new array on the next
 * change. GridWatch shows no undo/redo (the renderer offers it only with
 * show_undo_redo), so only the last few entries are kept.
 */
(function () {
  "use strict";
  var KEEP = 20;
  var EVERY_MS = 5000;

  function trim() {
    var store = window.store;  // dash-renderer's Redux store
    var state = store && typeof store.getState === "function" ? store.getState() : null;
    var history = state && state.history;
    if (history && Array.isArray(history.past) && history.past.length > KEEP) {
      history.past.splice(0, history.past.length - KEEP);
    }
    if (history && Array.isArray(history.future) && history.future.length > KEEP) {
      history.future.splice(KEEP);
    }
  }

  window.setInterval(trim, EVERY_MS);
})();
