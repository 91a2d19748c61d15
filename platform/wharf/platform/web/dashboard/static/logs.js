// The live log: one EventSource on the app's log stream, reopened when the source filter changes.
(function () {
  "use strict";
  var MAX_LINES = 2000;
  var list = document.getElementById("log-lines");
  var status = document.getElementById("log-status");
  var filters = document.getElementById("log-filters");
  if (!list || !filters || !window.EventSource) {
    return;
  }
  var stream = null;
  var ORIGIN = { app: "app", api: "app", build: "app", router: "heroku", heroku: "heroku" };

  function chosenSource() {
    var checked = filters.querySelector("input[name=source]:checked");
    return checked ? checked.value : "";
  }

  function append(entry) {
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    var item = document.createElement("li");
    item.dataset.source = entry.source;
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = entry.ts + " " + (ORIGIN[entry.source] || entry.source) + "[" + entry.dyno + "]: ";
    item.appendChild(meta);
    item.appendChild(document.createTextNode(entry.line));
    list.appendChild(item);
    while (list.children.length > MAX_LINES) {
      list.removeChild(list.firstChild);
    }
    if (atBottom) {
      list.scrollTop = list.scrollHeight;
    }
  }

  function connect() {
    if (stream) {
      stream.close();
    }
    list.textContent = "";
    var params = new URLSearchParams({ num: "100" });
    var source = chosenSource();
    if (source) {
      params.set("source", source);
    }
    status.textContent = "Connecting…";
    stream = new EventSource(list.dataset.stream + "?" + params.toString());
    stream.onopen = function () {
      status.textContent = "Live" + (source ? " (" + source + " lines only)" : "") + ": new lines appear as they arrive.";
    };
    stream.onerror = function () {
      status.textContent = "Connection lost; reconnecting…";
    };
    stream.onmessage = function (event) {
      append(JSON.parse(event.data));
    };
  }

  filters.addEventListener("change", function () {
    var url = new URL(window.location.href);
    url.searchParams.set("source", chosenSource());
    window.history.replaceState(null, "", url.toString());
    connect();
  });
  filters.addEventListener("submit", function (event) {
    event.preventDefault();
    connect();
  });
  connect();
}());
