/*
 * The one place that reaches into the MapLibre map plotly draws.
 *
 * plotly.js keeps its map subplot at gd._fullLayout.map._subplot, the MapLibre map at
 * its .map, each trace's GeoJSON source as "source-<uid>" and the trace's options
 * (with the per-feature colour property "fc") at gd._fullData[i]._opts. Everything
 * else in GridWatch calls this module; tests/e2e/test_live_state.py fails loudly when a
 * plotly upgrade moves any of these (window.GridWatchMap.probe()).
 *
 * What it does: a GeoJSON source of live cases ("gw-live", fed by diffs through
 * GeoJSONSource.updateData), its layers above plotly's, hover and click on them, a
 * camera move, and recolouring a choropleth trace from new values (the source's data
 * alone, no plotly redraw).
 */
(function () {
  "use strict";
  var SOURCE = "gw-live";

  function subplotOf(gd) {
    var layout = gd && gd._fullLayout;
    var ids = layout && layout._subplots && layout._subplots.map;
    var id = ids && ids.length ? ids[0] : "map";
    return layout && layout[id] && layout[id]._subplot ? layout[id]._subplot : null;
  }

  function mapOf(gd) {
    var subplot = subplotOf(gd);
    var map = subplot && subplot.map;
    return map && typeof map.getSource === "function" ? map : null;
  }

  /* What this module relies on, for the upgrade test: each should be true. */
  function probe(gd) {
    var subplot = subplotOf(gd);
    var map = subplot && subplot.map;
    var choropleth = (gd && gd._fullData || []).filter(function (t) {
      return t.type === "choroplethmap";
    })[0];
    return {
      subplot: !!subplot,
      map: !!(map && typeof map.addSource === "function"),
      updateData: !!(map && map.getSource(SOURCE) &&
                     typeof map.getSource(SOURCE).updateData === "function"),
      clickHandler: !!(subplot && typeof subplot.onClickInPanFn === "function"),
      choroplethOpts: !choropleth || !!(choropleth._opts && choropleth._opts.geojson),
      choroplethSource: !choropleth || !!(map && map.getSource("source-" + choropleth.uid)),
      calcdata: !choropleth || !!(gd.calcdata && gd.calcdata.some(function (cd) {
        return cd[0] && cd[0].trace && cd[0].trace.uid === choropleth.uid && cd[0].fOut;
      }))
    };
  }

  function emptyCollection() { return { type: "FeatureCollection", features: [] }; }

  /*
   * Make sure the live source and layers exist on gd's map (after plotly built or rebuilt
   * the style) and lie above plotly's. Returns "created" when the caller must send every
   * feature again, "ready" when they were there, or null when the map is not there yet.
   */
  function ensureLive(gd, specs, handlers) {
    var map = mapOf(gd);
    if (!map || !map.isStyleLoaded || !map.getStyle()) { return null; }
    var created = false;
    if (!map.getSource(SOURCE)) {
      map.addSource(SOURCE, { type: "geojson", data: emptyCollection() });
      created = true;
    }
    specs.forEach(function (spec) {
      if (!map.getLayer(spec.id)) {
        map.addLayer(Object.assign({}, spec, { source: SOURCE }));
      } else {
        map.moveLayer(spec.id);  // plotly re-added a trace above: back on top
      }
    });
    if (handlers && map._gridwatchHandlers !== handlers) {
      bindEvents(gd, map, specs, handlers);
      map._gridwatchHandlers = handlers;
    }
    return created ? "created" : "ready";
  }

  function liveFeatureAt(map, layerIds, point) {
    var present = layerIds.filter(function (id) { return map.getLayer(id); });
    if (!present.length) { return null; }
    var hits = map.queryRenderedFeatures(point, { layers: present });
    return hits.length ? hits[0] : null;
  }

  /*
   * Hover shows handlers.hover(properties) in a label over the map (plotly's own hover of
   * the area beneath is hidden meanwhile); a click on a case calls handlers.click(id)
   * and does not also drill into the area beneath.
   */
  function bindEvents(gd, map, specs, handlers) {
    var ids = specs.filter(function (s) { return s.interactive; }).map(function (s) { return s.id; });
    var label = document.createElement("div");
    label.className = "gw-live-hover";
    label.style.display = "none";
    gd.appendChild(label);
    map.on("mousemove", function (e) {
      var hit = liveFeatureAt(map, ids, e.point);
      if (!hit) {
        if (label.style.display !== "none") { label.style.display = "none"; }
        gd.classList.remove("gw-over-live");
        map.getCanvas().style.cursor = "";
        return;
      }
      label.innerHTML = handlers.hover(hit.properties);
      label.style.display = "block";
      label.style.left = (e.point.x + 14) + "px";
      label.style.top = (e.point.y + 10) + "px";
      gd.classList.add("gw-over-live");
      map.getCanvas().style.cursor = "pointer";
    });
    map.on("mouseout", function () {
      label.style.display = "none";
      gd.classList.remove("gw-over-live");
    });
    var subplot = subplotOf(gd);
    if (subplot && typeof subplot.onClickInPanFn === "function" && !subplot._gridwatchClick) {
      // plotly registers map.on("click", onClickInPanFn(...)) and re-creates it on each
      // redraw: wrap the factory so a click on a live case is ours alone.
      var factory = subplot.onClickInPanFn;
      subplot.onClickInPanFn = function (options) {
        var plotlyClick = factory.call(subplot, options);
        return function (e) {
          if (e && e.point && liveFeatureAt(map, ids, e.point)) { return; }
          return plotlyClick(e);
        };
      };
      subplot._gridwatchClick = true;
      if (subplot.onClickInPanHandler) {
        map.off("click", subplot.onClickInPanHandler);
        subplot.onClickInPanHandler = subplot.onClickInPanFn(subplot.dragOptions);
        map.on("click", subplot.onClickInPanHandler);
      }
    }
    map.on("click", function (e) {
      var hit = liveFeatureAt(map, ids, e.point);
      if (hit) { handlers.click(hit.properties.id); }
    });
  }

  function asUpdate(feature) {
    var props = feature.properties;
    return {
      id: feature.id,
      newGeometry: feature.geometry,
      removeAllProperties: true,
      addOrUpdateProperties: Object.keys(props).map(function (key) {
        return { key: key, value: props[key] };
      })
    };
  }

  /* Apply a diff {add, update, remove} to the live source; false when not there. */
  function applyDiff(gd, diff) {
    var map = mapOf(gd);
    var source = map && map.getSource(SOURCE);
    if (!source) { return false; }
    if (!diff.add.length && !diff.update.length && !diff.remove.length) { return true; }
    source.updateData({
      add: diff.add,
      update: diff.update.map(asUpdate),
      remove: diff.remove
    });
    return true;
  }

  function setAll(gd, features) {
    var map = mapOf(gd);
    var source = map && map.getSource(SOURCE);
    if (!source) { return false; }
    source.setData({ type: "FeatureCollection", features: features });
    return true;
  }

  /* The live features the map holds, read back from the source (tests, benches). */
  function drawnFeatures(gd) {
    var map = mapOf(gd);
    var source = map && map.getSource(SOURCE);
    if (!source || typeof source.getData !== "function") { return Promise.resolve(null); }
    return source.getData().then(function (data) { return data.features; });
  }

  function parseColour(text) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(text);
    if (m) { return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)]; }
    m = /rgba?\(([^)]+)\)/.exec(text);
    if (m) { return m[1].split(",").slice(0, 3).map(function (v) { return parseFloat(v); }); }
    return [128, 128, 128];
  }

  /* The colour of z on a plotly colorscale [[fraction, colour], ...] over [zmin, zmax]. */
  function scaleColour(scale, zmin, zmax, z) {
    var f = zmax > zmin ? (z - zmin) / (zmax - zmin) : 0;
    f = Math.max(0, Math.min(1, f));
    for (var i = 1; i < scale.length; i++) {
      if (f <= scale[i][0] || i === scale.length - 1) {
        var lo = scale[i - 1], hi = scale[i];
        var t = hi[0] > lo[0] ? (f - lo[0]) / (hi[0] - lo[0]) : 0;
        var a = parseColour(lo[1]), b = parseColour(hi[1]);
        var rgb = a.map(function (v, k) { return Math.round(v + (b[k] - v) * t); });
        return "rgb(" + rgb.join(",") + ")";
      }
    }
    return scale[scale.length - 1][1];
  }

  /*
   * Recolour the choropleth trace `uid` from `values` (location -> z): the features'
   * colour property and the source's data, nothing else redrawn. `hidden(z)`: the
   * feature is drawn transparent (an empty hexagon). `hover(location, z)`: new hover
   * fields for the trace's customdata, {index: text}. Returns how many changed.
   */
  function recolour(gd, uid, values, options) {
    options = options || {};
    var map = mapOf(gd);
    var index = -1;
    (gd._fullData || []).forEach(function (t, i) { if (t.uid === uid) { index = i; } });
    if (!map || index < 0) { return 0; }
    var trace = gd._fullData[index];
    var source = map.getSource("source-" + uid);
    var cd = (gd.calcdata || []).filter(function (c) {
      return c[0] && c[0].trace && c[0].trace.uid === uid;
    })[0];
    if (!source || !cd || !trace._opts || !trace._opts.geojson) { return 0; }
    var zmax = Math.max(trace.zmax || 1, options.zmax || 0);
    var changed = 0;
    cd.forEach(function (point, i) {
      if (!point.fOut) { return; }
      var z = values[point.loc];
      if (z === undefined) { z = options.missing === undefined ? point.z : options.missing; }
      var fc = scaleColour(trace.colorscale, trace.zmin || 0, zmax, z);
      var props = point.fOut.properties;
      var mo = options.hidden ? (options.hidden(z) ? 0 : options.opacity) : props.mo;
      if (props.fc !== fc || props.mo !== mo || point.z !== z) {
        props.fc = fc;
        if (mo !== undefined) { props.mo = mo; }
        point.z = z;
        changed += 1;
        if (options.hover && trace.customdata && trace.customdata[i]) {
          var fields = options.hover(point.loc, z);
          Object.keys(fields).forEach(function (k) { trace.customdata[i][k] = fields[k]; });
        }
      }
    });
    if (changed) { source.setData(trace._opts.geojson); }
    return changed;
  }

  /* Move the camera to a bbox [west, south, east, north] (the wall's tour). */
  function flyTo(gd, bbox, options) {
    var map = mapOf(gd);
    if (!map) { return false; }
    map.fitBounds([[bbox[0], bbox[1]], [bbox[2], bbox[3]]],
                  Object.assign({ padding: 40, duration: 1500 }, options || {}));
    return true;
  }

  /* Resolves once the map has drawn everything it was asked to (MapLibre's "idle"). */
  function idle(gd) {
    var map = mapOf(gd);
    if (!map) { return Promise.resolve(false); }
    return new Promise(function (resolve) {
      map.once("idle", function () { resolve(true); });
      map.triggerRepaint();
    });
  }

  window.GridWatchMap = {
    SOURCE: SOURCE, mapOf: mapOf, probe: probe, ensureLive: ensureLive, applyDiff: applyDiff,
    setAll: setAll, drawnFeatures: drawnFeatures, recolour: recolour, flyTo: flyTo, idle: idle,
    scaleColour: scaleColour
  };
})();
