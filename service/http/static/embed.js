/* quantam related-stories box ("Có thể bạn quan tâm").
 *
 * Paste under an article:
 *   <div data-quantam-related data-count="6" style="min-height:572px"></div>
 *   <script async src="https://QUANTAM_HOST/embed.js"></script>
 * Options (data- attributes): data-count (1-20), data-heading, data-url (default: the page's
 * canonical link, else its address), data-api (default: where this script came from).
 * The box lives in a shadow root, so the host page's CSS cannot reach it; every text goes in
 * as text, never as HTML; if quantam cannot be reached the box stays empty.
 */
(function () {
  "use strict";
  var CSS = __QUANTAM_CSS__;
  var HEADER = 44, ROW = 88, TIMEOUT_MS = 4000;
  var script = document.currentScript;
  var defaultApi = script && script.src ? new URL(script.src).origin : "";

  function safeUrl(value) {
    try {
      var url = new URL(value, document.baseURI);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function relativeTime(iso, now) {
    var then = new Date(iso);
    if (isNaN(then)) return "";
    var minutes = Math.floor((now - then) / 60000);
    if (minutes < 1) return "vừa xong";
    if (minutes < 60) return minutes + " phút trước";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " giờ trước";
    var days = Math.floor(hours / 24);
    if (days < 7) return days + " ngày trước";
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return pad(then.getDate()) + "/" + pad(then.getMonth() + 1) + "/" + then.getFullYear();
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function render(root, heading, items) {
    var box = el("section", "qt-box");
    var h = el("h2", "qt-heading", heading);
    h.id = "qt-h";
    box.setAttribute("aria-labelledby", "qt-h");
    box.lang = "vi";
    box.appendChild(h);
    var list = el("ul", "qt-list");
    var now = Date.now();
    items.forEach(function (item) {
      var href = safeUrl(item.url);
      if (!href) return;
      var li = el("li", "qt-item");
      var a = el("a", "qt-link");
      a.href = href;
      a.rel = "noopener";
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
      var time = el("time", "qt-meta", relativeTime(item.published, now));
      time.dateTime = item.published || "";
      text.appendChild(time);
      a.appendChild(text);
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(list);
    root.appendChild(box);
    return list.children.length;
  }

  function collapse(host) {
    host.style.minHeight = "0px";
    host.style.height = "0px";
  }

  function mount(host) {
    if (host.__quantam) return;
    host.__quantam = true;
    var count = Math.max(1, Math.min(20, parseInt(host.getAttribute("data-count"), 10) || 6));
    var heading = host.getAttribute("data-heading") || "Có thể bạn quan tâm";
    var api = (host.getAttribute("data-api") || defaultApi).replace(/\/+$/, "");
    var canonical = document.querySelector('link[rel="canonical"]');
    var pageUrl = host.getAttribute("data-url") || (canonical && canonical.href) || location.href;
    host.style.display = "block";
    host.style.minHeight = HEADER + ROW * count + "px";
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    var url = api + "/api/related?k=" + count + "&url=" + encodeURIComponent(pageUrl);
    fetch(url, { signal: controller && controller.signal, credentials: "omit" })
      .then(function (response) {
        if (!response.ok) throw new Error("quantam answered " + response.status);
        return response.json();
      })
      .then(function (data) {
        var shown = render(root, heading, (data.items || []).slice(0, count));
        if (!shown) collapse(host);
        else host.style.minHeight = HEADER + ROW * shown + "px";
      })
      .catch(function () { collapse(host); })
      .then(function () { clearTimeout(timer); });
  }

  function start() {
    var hosts = document.querySelectorAll("[data-quantam-related]");
    for (var i = 0; i < hosts.length; i++) mount(hosts[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
