// Progressive enhancement only: every form works without this file.
// 1. A query box with data-preview-url shows what it would have matched, as you type.
// 2. A time-zone select marked data-browser-zone="True" starts on the browser's own zone.
(function () {
  "use strict";
  function previewFor(box) {
    var form = box.closest("form");
    var target = form && form.querySelector("[data-preview-target]");
    if (!target) { return; }
    var timer = null;
    var asked = 0;
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++asked;
        var url = new URL(box.dataset.previewUrl, window.location.href);
        url.searchParams.set("q", box.value);
        fetch(url.toString(), {credentials: "same-origin"})
          .then(function (r) { return r.text(); })
          .then(function (html) {
            if (mine !== asked) { return; }  // an older answer arriving late
            var parsed = new DOMParser().parseFromString(html, "text/html");
            var result = parsed.querySelector("[data-preview-result]");
            target.replaceChildren.apply(target, result ? [document.importNode(result, true)] : []);
            // The error the server showed for the query as sent is now out of date.
            var stale = target.previousElementSibling;
            if (stale && stale.classList.contains("error")) { stale.remove(); }
          })
          .catch(function () {});
      }, 250);
    });
  }
  document.querySelectorAll("textarea[data-preview-url]").forEach(previewFor);
  document.querySelectorAll("select[data-browser-zone='True']").forEach(function (select) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && select.querySelector("option[value='" + zone.replace(/'/g, "") + "']")) {
      select.value = zone;
    }
  });
})();
