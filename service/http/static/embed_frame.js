(function () {
  // The framed box (/embed/related) tells its parent page how tall it is, so the iframe
  // snippet sizes the frame to it (0 when there is nothing to show), and swaps a thumbnail that
  // fails to load for the neutral tile.
  function height() {
    var h = Math.ceil(document.body.getBoundingClientRect().height);
    if (window.parent !== window) window.parent.postMessage({ quantam: "height", height: h }, "*");
  }
  function broken(img) {
    var tile = document.createElement("span");
    tile.className = "qt-thumb";
    img.replaceWith(tile);
  }
  document.querySelectorAll("img.qt-thumb").forEach(function (img) {
    if (img.complete && !img.naturalWidth) broken(img);
    else img.addEventListener("error", function () { broken(img); });
  });
  height();
  if (window.ResizeObserver) new ResizeObserver(height).observe(document.body);
})();
