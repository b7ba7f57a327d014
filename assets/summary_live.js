/*
 * Today's summary follows the feed: a batch naming a change marks the tiles stale, and
 * the tick asks the server for them at most once a second (a busy feed does not turn
 * into a query per batch). Nothing is kept but two numbers.
 */
(function () {
  "use strict";
  var EVERY_MS = 1000;
  var state = { dirty: false, at: 0, n: 0 };
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatchSummary: {
      pace: function (batch) {
        var ctx = window.dash_clientside.callback_context;
        var trigger = ctx.triggered.length ? ctx.triggered[0].prop_id : "";
        var now = Date.now();
        if (trigger.indexOf("data-feed") >= 0) {
          if (batch && batch.entries && batch.entries.length) { state.dirty = true; }
        }
        if (!state.dirty || now - state.at < EVERY_MS) { return window.dash_clientside.no_update; }
        state.dirty = false;
        state.at = now;
        state.n += 1;
        return state.n;
      }
    }
  });
})();
