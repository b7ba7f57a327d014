/*
 * Keep plotly's map error listeners bounded, so a map redrawn for days does not grow.
 *
 * plotly.js (the map subplot's updateMap) calls rejectOnError(reject) on every redraw:
 * it registers one function with map.once() for five events ("error", "style.error",
 * "source.error", "tile.error", "layer.error") to reject that redraw's promise if the
 * map fails, and never removes it. Without a map error the listeners stay on the
 * MapLibre map for good, each holding its redraw's settled promise: a wall patched every
 * few seconds gained about 440 of each in 25 minutes (bench.heap_retainers on a
 * bench.soak run; BENCHMARKS.md, "Soak").
 *
 * The redraw before the current one has settled, so rejecting its promise does
 * nothing: once the map subplot's prototype is found, each rejectOnError first takes
 * the previous call's listeners off, then registers its own as plotly does.
 */
(function () {
  "use strict";
  var LOOK_EVERY_MS = 1000;

  function bounded(original) {
    return function (reject) {
      var map = this.map;
      if (!map || typeof map.once !== "function" || typeof map.off !== "function") {
        return original.call(this, reject);
      }
      (this._gridwatchOnError || []).forEach(function (entry) { map.off(entry[0], entry[1]); });
      var added = [];
      var own = Object.prototype.hasOwnProperty.call(map, "once");
      var once = map.once;
      map.once = function (type, listener) {
        if (typeof listener === "function") { added.push([type, listener]); }
        return once.apply(map, arguments);
      };
      try {
        return original.call(this, reject);
      } finally {
        if (own) { map.once = once; } else { delete map.once; }
        this._gridwatchOnError = added;
      }
    };
  }

  function mapSubplot() {
    var plots = document.querySelectorAll(".js-plotly-plot");
    for (var i = 0; i < plots.length; i++) {
      var layout = plots[i]._fullLayout;
      var ids = layout && layout._subplots && layout._subplots.map;
      if (ids && ids.length && layout[ids[0]] && layout[ids[0]]._subplot) {
        return layout[ids[0]]._subplot;
      }
    }
    return null;
  }

  var timer = window.setInterval(function () {
    var subplot = mapSubplot();
    var proto = subplot && Object.getPrototypeOf(subplot);
    if (!proto || typeof proto.rejectOnError !== "function") { return; }
    if (!proto._gridwatchBounded) {
      proto.rejectOnError = bounded(proto.rejectOnError);
      proto._gridwatchBounded = true;
    }
    window.clearInterval(timer);  // one prototype serves every map on the page
  }, LOOK_EVERY_MS);
})();
