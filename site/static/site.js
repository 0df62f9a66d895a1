/* Page behaviour outside the scrubber: the "embed this" snippet gets absolute
   addresses when the page is served over http(s), so it can be pasted anywhere. */
(function () {
  "use strict";
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
