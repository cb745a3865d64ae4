/* quantam related-stories boxes.
 *
 * Paste under an article (docs/embed.md has every option):
 *   <div data-quantam-related data-count="6" style="min-height:572px"></div>
 *   <script async src="https://QUANTAM_HOST/embed.js"></script>
 * Options (data- attributes): data-mode (related | latest | popular), data-count (1-20),
 * data-heading, data-summary (show the lead), data-section (show the section), data-layout
 * (list | grid | text), data-lang (vi | en), data-fill="0" (nothing for an unknown page),
 * data-url (default: the page's canonical link, else its address), data-api (default: where
 * this script came from).
 * Every box of a page comes from one request (GET /api/box), without the same story twice. Each
 * box lives in a shadow root, so the host page's CSS cannot reach it; every text goes in as
 * text, never as HTML; if quantam cannot be reached the boxes fold away. Impressions (a box
 * half in view) and clicks go back with navigator.sendBeacon: no cookies.
 */
(function () {
  "use strict";
  var CSS = __QUANTAM_CSS__;
  var HEADER = 44, ROW = 88, GRID_MIN = 560, TIMEOUT_MS = 4000;
  var script = document.currentScript;
  var defaultApi = script && script.src ? new URL(script.src).origin : "";

  function attr(host, name, fallback) {
    var value = host.getAttribute("data-" + name);
    return value == null || value === "" ? fallback : value;
  }

  function flag(host, name, fallback) {
    var value = host.getAttribute("data-" + name);  // present and empty: on
    return value == null ? fallback : value !== "0" && value !== "false";
  }

  function safeUrl(value) {
    try {
      var url = new URL(value, document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function relativeTime(iso, now, lang) {
    var then = new Date(iso);
    if (isNaN(then)) return "";
    var minutes = Math.floor((now - then) / 60000);
    if (minutes < 1) return lang === "en" ? "just now" : "vừa xong";
    if (minutes >= 7 * 1440) return then.toLocaleDateString(lang === "en" ? "en-GB" : "vi-VN");
    var size = minutes >= 1440 ? 1440 : minutes >= 60 ? 60 : 1;
    var n = Math.floor(minutes / size);
    if (lang !== "en") return n + (size === 1440 ? " ngày" : size === 60 ? " giờ" : " phút") + " trước";
    return n + (size === 1440 ? " day" : size === 60 ? " hour" : " minute") + (n === 1 ? "" : "s") + " ago";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function rows(host, count) {
    var grid = attr(host, "layout", "list") === "grid" && host.clientWidth >= GRID_MIN;
    return grid ? Math.ceil(count / 2) : count;
  }

  function beacon(api, events) {
    var body = JSON.stringify({ events: events });
    // A string goes as text/plain: no CORS preflight (a Blob of application/json would need one).
    if (!(navigator.sendBeacon && navigator.sendBeacon(api + "/api/events", body))) {
      fetch(api + "/api/events", { method: "POST", body: body, keepalive: true, credentials: "omit", mode: "no-cors" })
        .catch(function () {});
    }
  }

  function render(host, root, box, page, api) {
    var lang = attr(host, "lang", "vi");
    var heading = attr(host, "heading", box.heading);
    var layout = attr(host, "layout", "list");
    var summary = flag(host, "summary", false);
    var section = flag(host, "section", false);
    var from = page.article ? page.article.id : undefined;
    var wrap = el("section", "qt-box qt-layout-" + layout + (summary ? " qt-has-lead" : ""));
    var h = el("h2", "qt-heading", heading);
    h.id = "qt-h";
    wrap.setAttribute("aria-labelledby", "qt-h");
    wrap.lang = lang;
    if (page.fill) wrap.setAttribute("data-fill", "");
    wrap.appendChild(h);
    var list = el("ul", "qt-list");
    var now = Date.now();
    var seen = [];
    box.items.forEach(function (item) {
      var href = safeUrl(item.url);
      if (!href) return;
      var position = list.children.length + 1;
      var li = el("li", "qt-item");
      var a = el("a", "qt-link");
      a.href = href;
      a.rel = "noopener";
      a.addEventListener("click", function () {
        beacon(api, [{ type: "click", id: item.id, from: from, position: position }]);
      });
      var src = item.image && safeUrl(item.image);
      var thumb = el(src ? "img" : "span", "qt-thumb");
      if (src) {
        thumb.src = src;
        thumb.alt = "";
        thumb.loading = "lazy";
        thumb.decoding = "async";
        thumb.width = 112;
        thumb.height = 70;
        thumb.onerror = function () { this.replaceWith(el("span", "qt-thumb")); };
      }
      a.appendChild(thumb);
      var text = el("span", "qt-text");
      text.appendChild(el("span", "qt-title", item.title));
      if (summary && item.summary) text.appendChild(el("span", "qt-lead", item.summary));
      var meta = el("span", "qt-meta");
      if (section && item.section) meta.appendChild(el("span", "qt-section", item.section));
      var time = el("time", null, relativeTime(item.published, now, lang));
      time.dateTime = item.published || "";
      meta.appendChild(time);
      text.appendChild(meta);
      a.appendChild(text);
      li.appendChild(a);
      list.appendChild(li);
      seen.push({ type: "impression", id: item.id, from: from, position: position });
    });
    wrap.appendChild(list);
    root.appendChild(wrap);
    if (seen.length && window.IntersectionObserver) {
      var observer = new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) {
          observer.disconnect();
          beacon(api, seen);
        }
      }, { threshold: 0.5 });
      observer.observe(host);
    }
    return seen.length;
  }

  function collapse(host) {
    host.style.minHeight = "0px";
    host.style.height = "0px";
  }

  function prepare(host) {
    var count = Math.max(1, Math.min(20, parseInt(attr(host, "count", ""), 10) || 6));
    var mode = attr(host, "mode", "related");
    if (!/^(related|latest|popular)$/.test(mode)) mode = "related";
    host.style.display = "block";
    host.style.minHeight = HEADER + ROW * rows(host, count) + "px";
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
    return { host: host, root: root, ask: mode + ":" + count };
  }

  function load(api, pageUrl, fill, lang, boxes) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    var url = api + "/api/box?url=" + encodeURIComponent(pageUrl) + "&boxes=" +
      boxes.map(function (b) { return b.ask; }).join(",") + "&lang=" + lang + (fill ? "" : "&fill=0");
    fetch(url, { signal: controller && controller.signal, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("quantam answered " + response.status);
        return response.json();
      })
      .then(function (page) {
        boxes.forEach(function (b, i) {
          var shown = render(b.host, b.root, page.boxes[i], page, api);
          if (!shown) collapse(b.host);
          else b.host.style.minHeight = HEADER + ROW * rows(b.host, shown) + "px";
        });
      })
      .catch(function () { boxes.forEach(function (b) { collapse(b.host); }); })
      .then(function () { clearTimeout(timer); });
  }

  function start() {
    var canonical = document.querySelector('link[rel="canonical"]');
    var groups = {};
    var hosts = document.querySelectorAll("[data-quantam-related]");
    for (var i = 0; i < hosts.length; i++) {
      var host = hosts[i];
      if (host.__quantam) continue;
      host.__quantam = true;
      var api = attr(host, "api", defaultApi).replace(/\/+$/, "");
      var pageUrl = attr(host, "url", (canonical && canonical.href) || location.href);
      var key = api + "\n" + pageUrl;
      (groups[key] = groups[key] || []).push(prepare(host));
    }
    // One request per page: every box with the same quantam and page address (all of them,
    // unless a box says otherwise) is in it, so no story shows twice. The first box's
    // data-lang and data-fill apply to the request.
    Object.keys(groups).forEach(function (key) {
      var parts = key.split("\n"), boxes = groups[key], first = boxes[0].host;
      // At most five boxes a request (the API's limit); a page rarely has more than three.
      for (var j = 0; j < boxes.length; j += 5) {
        load(parts[0], parts[1], flag(first, "fill", true), attr(first, "lang", "vi"), boxes.slice(j, j + 5));
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
