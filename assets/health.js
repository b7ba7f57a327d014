/* A degraded banner on every page: while /healthz says the server or its database is
   unavailable, a bar at the top says so (and that the page reconnects by itself). */
(function () {
  "use strict";
  var INTERVAL_MS = 5000;
  var WORDS = {
    zh: "服务暂时不可用：数据库连接中断，正在自动重连，恢复后页面将自动更新。",
    en: "Service degraded: the database is unreachable; reconnecting, the page will catch up by itself."
  };

  function lang() {
    return /[?&]lang=en\b/.test(window.location.search) ? "en" : "zh";
  }

  function banner(show) {
    var bar = document.getElementById("gw-degraded");
    if (!show) {
      if (bar) { bar.remove(); }
      return;
    }
    if (!bar) {
      bar = document.createElement("div");
      bar.id = "gw-degraded";
      bar.className = "gw-degraded";
      bar.setAttribute("role", "alert");
      document.body.appendChild(bar);
    }
    bar.textContent = WORDS[lang()];
  }

  async function check() {
    var ok = false;
    try {
      var response = await fetch("/healthz", { cache: "no-store", credentials: "same-origin" });
      ok = response.ok;
    } catch (e) {
      ok = false;
    }
    banner(!ok);
  }

  window.addEventListener("load", function () {
    check();
    window.setInterval(check, INTERVAL_MS);
  });
})();
