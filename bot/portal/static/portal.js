/* Kardeş portal: the reader's own time next to the venue's, and the Mini App (initData from Telegram). */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";

  function readerTimes() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    var nodes = document.querySelectorAll("[data-utc]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      if (!zone || zone === node.getAttribute("data-venue-zone")) { continue; }
      var moment = new Date(node.getAttribute("data-utc"));
      if (isNaN(moment.getTime())) { continue; }
      var text = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(moment);
      node.textContent = node.getAttribute("data-label").replace("{time}", text + " (" + zone + ")");
      node.hidden = false;
    }
  }

  // Telegram hands the Mini App its signed data in the URL fragment; keep it for this tab only.
  function initData() {
    var hash = window.location.hash.slice(1);
    if (hash) {
      var params = new URLSearchParams(hash);
      var data = params.get("tgWebAppData");
      if (data) {
        try { sessionStorage.setItem("tgWebAppData", data); } catch (e) { /* private mode */ }
        return data;
      }
    }
    try { return sessionStorage.getItem("tgWebAppData"); } catch (e) { return null; }
  }

  function say(message) {
    var live = document.querySelector(".live");
    if (live) { live.textContent = message || ""; }
  }

  function call(data, action, body) {
    return fetch("/api/app/" + action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Telegram-Init-Data": data, "Accept-Language": lang },
      body: JSON.stringify(body || {})
    }).then(function (reply) { return reply.json(); });
  }

  function miniApp(data) {
    document.documentElement.classList.add("in-telegram");
    document.addEventListener("click", function (event) {
      var target = event.target.closest("[data-rsvp],[data-follow-org],[data-follow-city]");
      if (!target) { return; }
      var body;
      if (target.hasAttribute("data-rsvp")) {
        body = ["rsvp", { event_id: target.getAttribute("data-rsvp"), status: target.getAttribute("data-status") }];
      } else if (target.hasAttribute("data-follow-org")) {
        body = ["follow", { organisation_id: target.getAttribute("data-follow-org") }];
      } else {
        body = ["follow", { event_id: target.getAttribute("data-follow-city") }];
      }
      target.disabled = true;
      call(data, body[0], body[1]).then(function (reply) { say(reply.message); })
        .catch(function () { say(""); })
        .then(function () { target.disabled = false; });
    });
    var mine = document.getElementById("my-events");
    if (mine) {
      call(data, "my-events").then(function (reply) {
        if (reply.ok) {
          var holder = document.createElement("div");
          holder.innerHTML = reply.html; // rendered and escaped by the server
          mine.replaceChildren(holder);
        } else { say(reply.message); }
      }).catch(function () { /* offline: the page stays as it is */ });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    readerTimes();
    var data = initData();
    if (data) { miniApp(data); }
  });
})();
