/* On the degraded page only (served while the database is down): reload once /healthz
   answers again, so the screen comes back by itself. */
(function () {
  "use strict";
  if (!document.querySelector("body > #gw-degraded:only-child")) { return; }
  window.setInterval(async function () {
    try {
      var response = await fetch("/healthz", { cache: "no-store" });
      if (response.ok) { window.location.reload(); }
    } catch (e) { /* still down */ }
  }, 3000);
})();
