/*
 * The wall screen, in the browser: the clock (in the configured zone the page carries,
 * <html data-timezone>, whatever the browser's own zone), the link status colour,
 * fitting the map to the screen it is shown on, and the tour's camera moves.
 *
 * The server fits the map to a 1920 x 1080 wall and puts the area's extent in
 * layout.meta.bbox; on a larger (or smaller) screen this refits it once per new figure
 * or size, and scales the map's text and markers with the page's root font size (as
 * assets/wall.css scales everything else). It remembers only the last fit, so nothing
 * here grows while a wall runs for days.
 */
(function () {
  "use strict";
  function zone() {
    return document.documentElement.dataset.timezone || "Asia/Shanghai";
  }
  var REFIT_AFTER_MS = 10000;  // the same fit is not patched again sooner (a safety net)
  var formats = {};  // one pair of formatters per language: two entries at most
  var lastFit = { key: null, at: 0 };

  function formatters(lang) {
    var tz = zone();
    if (!formats[lang] || formats[lang].tz !== tz) {
      var locale = lang === "en" ? "en-GB" : "zh-CN";
      formats[lang] = {
        tz: tz,
        time: new Intl.DateTimeFormat(locale, { timeZone: tz, hour: "2-digit",
          minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
        date: new Intl.DateTimeFormat(locale, { timeZone: tz, weekday: lang === "en" ? "short" : "long",
          year: "numeric", month: lang === "en" ? "short" : "long", day: "numeric" })
      };
    }
    return formats[lang];
  }

  function span(className, text) {
    return { namespace: "dash_html_components", type: "Span",
             props: { className: className, children: text } };
  }

  function mercatorY(lat) {
    lat = Math.max(Math.min(lat, 85), -85);
    return Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI / 180) / 2));
  }

  // The same fit as callbacks.map.fit_view: MapLibre's world is 512 px wide at zoom 0.
  function fit(bbox, width, height) {
    var west = bbox[0], south = bbox[1], east = bbox[2], north = bbox[3];
    var spanX = Math.max(east - west, 1e-6) / 360;
    var spanY = Math.max(mercatorY(north) - mercatorY(south), 1e-8) / (2 * Math.PI);
    var zoom = Math.log2(Math.min(width / (512 * spanX), height / (512 * spanY)) * 0.88);
    var centreY = (mercatorY(north) + mercatorY(south)) / 2;
    var lat = (2 * Math.atan(Math.exp(centreY)) - Math.PI / 2) * 180 / Math.PI;
    return {
      center: { lon: Math.round((west + east) / 2 * 1e6) / 1e6, lat: Math.round(lat * 1e6) / 1e6 },
      zoom: Math.round(Math.max(2, Math.min(zoom, 19.5)) * 100) / 100
    };
  }

  function rootScale() {
    var px = parseFloat(window.getComputedStyle(document.documentElement).fontSize);
    return px > 0 ? Math.round(px / 16 * 100) / 100 : 1;  // 1 on a 1920 x 1080 wall
  }

  function scaled(value, factor) {
    if (Array.isArray(value)) {
      return value.map(function (v) { return scaled(v, factor); });
    }
    return typeof value === "number" ? Math.round(value * factor * 10) / 10 : undefined;
  }

  // Plotly draws in CSS pixels: a 4K wall at 100 % needs larger text, markers and lines.
  function rescale(patch, gd, factor) {
    var layout = gd.layout;
    [["font", "size"], ["legend", "font", "size"], ["hoverlabel", "font", "size"]].forEach(
      function (path) {
        var value = path.reduce(function (o, k) { return o && o[k]; }, layout);
        var next = scaled(value, factor);
        if (next !== undefined) { patch.assign(["layout"].concat(path), next); }
      });
    (gd.data || []).forEach(function (trace, i) {
      var size = scaled(trace.marker && trace.marker.size, factor);
      if (size !== undefined) { patch.assign(["data", i, "marker", "size"], size); }
      var width = scaled(trace.line && trace.line.width, factor);
      if (width !== undefined) { patch.assign(["data", i, "line", "width"], width); }
      var bar = trace.colorbar;
      if (bar) {
        [["thickness"], ["tickfont", "size"], ["title", "font", "size"]].forEach(function (path) {
          var value = path.reduce(function (o, k) { return o && o[k]; }, bar);
          var next = scaled(value, factor);
          if (next !== undefined) { patch.assign(["data", i, "colorbar"].concat(path), next); }
        });
      }
    });
  }

  function refit(now) {
    var noUpdate = window.dash_clientside.no_update;
    var gd = document.querySelector("#map-graph .js-plotly-plot");
    var meta = gd && gd.layout && gd.layout.meta;
    if (!meta || !meta.bbox) { return noUpdate; }
    var width = gd.clientWidth, height = gd.clientHeight;
    if (width < 50 || height < 50) { return noUpdate; }
    var scale = rootScale();
    var key = width + "x" + height + "@" + scale + ":" + meta.bbox.join(",");
    if (meta.fit === key || (lastFit.key === key && now - lastFit.at < REFIT_AFTER_MS)) {
      return noUpdate;
    }
    lastFit = { key: key, at: now };
    var view = fit(meta.bbox, width, height);
    var patch = new window.dash_clientside.Patch();
    patch.assign(["layout", "map", "center"], view.center);
    patch.assign(["layout", "map", "zoom"], view.zoom);
    var factor = scale / (meta.scale || 1);
    if (Math.abs(factor - 1) > 0.01) { rescale(patch, gd, factor); }
    patch.assign(["layout", "meta"], { bbox: meta.bbox, fit: key, scale: scale });
    return patch.build();
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    gridwatchWall: {
      // A tour stop: the camera flies to the stop's extent over the same figure.
      move: function (camera) {
        var gd = document.querySelector("#map-graph .js-plotly-plot");
        if (camera && camera.bbox && gd && window.GridWatchMap) {
          window.GridWatchMap.flyTo(gd, camera.bbox, { padding: 60, duration: 2000 });
        }
        return window.dash_clientside.no_update;
      },
      tick: function (_n, connected, config) {
        var noUpdate = window.dash_clientside.no_update;
        var lang = config && config.lang === "en" ? "en" : "zh";
        var now = new Date();
        var f = formatters(lang);
        var clock = [span("gw-wall-time", f.time.format(now)),
                     span("gw-wall-date", f.date.format(now))];
        var linkClass = "gw-wall-link " + (connected ? "is-live" : "is-offline");
        var link = document.getElementById("wall-link");
        return [clock, link && link.className === linkClass ? noUpdate : linkClass,
                refit(now.getTime())];
      }
    }
  });
})();
