/* Autocomplete for the search box of every page (meta/_search_box.html).
 * Progressive enhancement: without this script the form still submits to /search.
 * No inline script, no innerHTML: suggestions are built with textContent (CSP and XSS safe). */
(function () {
  "use strict";
  var form = document.querySelector("form.kg-search");
  if (!form) { return; }
  var input = form.querySelector("input[name=q]");
  var list = form.querySelector(".kg-suggest");
  var langField = form.querySelector("input[name=lang]");
  var endpoint = form.getAttribute("data-suggest") || "/search/suggest";
  var timer = null;
  var controller = null;
  var active = -1;
  var items = [];

  function hide() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) { input.setAttribute("aria-activedescendant", items[index].id); }
    else { input.removeAttribute("aria-activedescendant"); }
  }

  function render(results) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    items = results.map(function (hit, i) {
      var li = document.createElement("li");
      li.id = "kg-suggest-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      var link = document.createElement("a");
      link.href = hit.url;
      link.textContent = hit.label;
      li.appendChild(link);
      if (hit.classLabel) {
        var tag = document.createElement("span");
        tag.className = "kg-suggest-class";
        tag.textContent = hit.classLabel;
        li.appendChild(tag);
      }
      li.addEventListener("mousedown", function (event) { event.preventDefault(); window.location.assign(hit.url); });
      list.appendChild(li);
      return li;
    });
    active = -1;
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
  }

  function fetchSuggestions() {
    var q = input.value.trim();
    if (q.length < 2 || q.length > 200) { hide(); return; }
    if (controller) { controller.abort(); }
    controller = typeof AbortController === "function" ? new AbortController() : null;
    var url = endpoint + "?q=" + encodeURIComponent(q) + (langField ? "&lang=" + encodeURIComponent(langField.value) : "");
    fetch(url, { headers: { "Accept": "application/json" }, signal: controller ? controller.signal : undefined })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { if (input.value.trim() === q) { render(data.results || []); } })
      .catch(function (error) { if (!error || error.name !== "AbortError") { hide(); } });
  }

  input.addEventListener("input", function () {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(fetchSuggestions, 120);
  });
  input.addEventListener("keydown", function (event) {
    if (list.hidden || !items.length) { return; }
    if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
    else if (event.key === "Escape") { hide(); }
    else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      window.location.assign(items[active].querySelector("a").href);
    }
  });
  input.addEventListener("blur", function () { window.setTimeout(hide, 150); });
}());
