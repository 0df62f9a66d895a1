/* Page behaviour outside the scrubber: display equations fit the column, and
   the "embed this" snippet gets absolute addresses when the page is served
   over http(s), so it can be pasted anywhere. */
(function () {
  "use strict";
  // a display equation wider than the column is set smaller, down to 70 %; what
  // still does not fit scrolls, and can be reached from the keyboard to scroll it
  var MIN_SCALE = 0.7;
  var fit = function () {
    var boxes = document.querySelectorAll(".display-math");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i], math = box.firstElementChild;
      if (!math) continue;
      math.style.fontSize = "";
      var ratio = box.clientWidth / math.scrollWidth;
      if (ratio < 1) math.style.fontSize = (1.08 * Math.max(ratio * 0.98, MIN_SCALE)).toFixed(3) + "em";
      if (box.scrollWidth > box.clientWidth + 1) {
        box.tabIndex = 0; box.setAttribute("role", "region"); box.setAttribute("aria-label", "Equation (scrolls)");
      } else {
        box.removeAttribute("tabindex"); box.removeAttribute("role"); box.removeAttribute("aria-label");
      }
    }
  };
  fit();
  // the gallery's posters become their animations once seen, after the page has loaded
  // (a reader who asks for less motion keeps the posters)
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var cells = document.querySelectorAll("img[data-animated]");
  if (cells.length && !still && window.IntersectionObserver) {
    var animate = function () {
      var seen = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (!e.isIntersecting) return;
          e.target.src = e.target.dataset.animated;
          seen.unobserve(e.target);
        });
      });
      for (var c = 0; c < cells.length; c++) seen.observe(cells[c]);
    };
    if (document.readyState === "complete") animate(); else window.addEventListener("load", animate);
  }
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(fit, 100); });
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(fit);

  if (!/^https?:$/.test(location.protocol)) return;
  var boxes = document.querySelectorAll("textarea.embed-code");
  for (var i = 0; i < boxes.length; i++) {
    var t = boxes[i];
    var root = t.dataset.root || "";
    var video = new URL(root + t.dataset.video, location.href).href;
    var poster = new URL(root + t.dataset.poster, location.href).href;
    t.value = '<video src="' + video + '" poster="' + poster + '" controls playsinline width="1280" height="720"></video>';
  }
})();
