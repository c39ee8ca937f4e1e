/* territory-kg pages: progressive enhancement only (every page works without script).
   - copy buttons: [data-copy] copies the text of the element with that id;
   - language switch: remembers the choice in the "lang" cookie before following the link;
   - definitions: elements with class "def" show their title on focus or tap (touch screens). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) { return; }
    var copy = target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var label = copy.textContent;
          copy.textContent = copy.getAttribute("data-done") || label;
          window.setTimeout(function () { copy.textContent = label; }, 1500);
        });
      }
      return;
    }
    var lang = target.closest("a[data-lang]");
    if (lang) {
      var value = lang.getAttribute("data-lang");
      if (value === "en" || value === "fr") {
        document.cookie = "lang=" + value + "; path=/; max-age=31536000; samesite=lax";
      }
    }
  });
  var pop = null;
  function hide() { if (pop) { pop.remove(); pop = null; } }
  function show(el) {
    hide();
    var text = el.getAttribute("title") || el.getAttribute("data-title");
    if (!text) { return; }
    el.setAttribute("data-title", text);
    el.removeAttribute("title");
    pop = document.createElement("div");
    pop.className = "def-pop";
    pop.setAttribute("role", "tooltip");
    pop.textContent = text;
    document.body.appendChild(pop);
    var box = el.getBoundingClientRect();
    pop.style.left = Math.max(4, window.scrollX + box.left) + "px";
    pop.style.top = (window.scrollY + box.bottom + 4) + "px";
  }
  document.addEventListener("focusin", function (event) {
    var el = event.target instanceof Element ? event.target.closest(".def") : null;
    if (el) { show(el); } else { hide(); }
  });
  document.addEventListener("focusout", function (event) {
    var el = event.target instanceof Element ? event.target.closest(".def") : null;
    if (el && el.hasAttribute("data-title")) { el.setAttribute("title", el.getAttribute("data-title")); }
    hide();
  });
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { hide(); } });
}());
