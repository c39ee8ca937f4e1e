/* territory-kg query UI: YASGUI over this server's /sparql (service/web/queryui.py).
 *
 * Reads its configuration from the JSON block #kg-queryui-config (no inline script: the page's
 * CSP is script-src 'self'). Everything stays on this server:
 *  - the endpoint is /sparql resolved against this page's URL (any host and port);
 *  - prefix autocompletion offers the dataset's prefixes from the configuration (never prefix.cc),
 *    and the Linked Open Vocabularies property/class completers are not enabled;
 *  - the endpoint list offers this endpoint only, and no CORS proxy or link shortener is set;
 *  - a shared link (#query=…) opens its query in a new tab against this endpoint, whatever
 *    endpoint, headers or extra arguments the link names.
 * Tabs are not stored in the browser (persistenceId null): each visit starts from the curated queries.
 */
(function () {
  "use strict";
  var holder = document.getElementById("kg-queryui");
  var block = document.getElementById("kg-queryui-config");
  var Yasgui = window.Yasgui;
  if (!holder || !block || !Yasgui) {
    return;
  }
  var cfg = JSON.parse(block.textContent);
  var endpoint = new URL(cfg.endpoint, window.location.href).href;
  var prefixes = Object.keys(cfg.prefixes).map(function (p) {
    return p + ": <" + cfg.prefixes[p] + ">";
  }).sort();

  Yasgui.Yasqe.forkAutocompleter("prefixes", {
    name: "datasetPrefixes",
    persistenceId: null,
    get: function () { return Promise.resolve(prefixes); }
  }, false);

  function request() {
    return {
      endpoint: endpoint,
      method: "POST",
      acceptHeaderSelect: "application/sparql-results+json",
      acceptHeaderGraph: "text/turtle",
      args: [],
      headers: {},
      namedGraphs: [],
      defaultGraphs: []
    };
  }

  function fromSharedLink(tab) {
    var asked = tab.requestConfig || {};
    tab.requestConfig = request();
    if (asked.method === "GET") {
      tab.requestConfig.method = "GET";
    }
    tab.requestConfig.namedGraphs = asked.namedGraphs || [];
    tab.requestConfig.defaultGraphs = asked.defaultGraphs || [];
    return tab;
  }

  var yasgui = new Yasgui(holder, {
    persistenceId: null,
    autoAddOnInit: false,
    copyEndpointOnNewTab: false,
    populateFromUrl: fromSharedLink,
    corsProxy: undefined,
    requestConfig: request(),
    endpointCatalogueOptions: {
      getData: function () { return [{ endpoint: endpoint }]; },
      keys: []
    },
    yasqe: {
      value: cfg.starter,
      autocompleters: ["datasetPrefixes", "variables"],
      prefixCcApi: null,
      createShortLink: undefined,
      editorHeight: "320px"
    },
    yasr: {
      prefixes: cfg.prefixes
    }
  });

  var shared = yasgui.persistentConfig.getTabs().length > 0;
  cfg.tabs.forEach(function (tab) {
    yasgui.addTab(false, { id: tab.id, name: tab.name, yasqe: { value: tab.query }, requestConfig: request() });
  });
  if (!shared && cfg.tabs.length) {
    yasgui.persistentConfig.setActive(cfg.tabs[0].id);
    yasgui.markTabSelected(cfg.tabs[0].id);
  }
  Array.prototype.forEach.call(holder.querySelectorAll(".tabsList .tab a"), function (link) {
    link.title = link.textContent.replace(/\u2716\s*$/, "").trim();  // the full title; the tab shows a cut one
  });
  window.kgQueryUI = yasgui;
}());
