// The app page's graphs of the last hour, per minute, drawn with the vendored uPlot from the app's
// metrics (the same points as `wharf metrics --json`): response time (p50, p95), throughput by status
// class, memory RSS against the dyno size's limit and dyno load (CPU) against the dyno's CPU share.
// The app's events (deploys, restarts, crashes, scaling) are vertical markers on every graph, named
// in their title and listed below. Both are fetched again every 30 seconds, and when the process type
// changes; each fetch replaces the data, so the graphs hold one hour of points however long the page
// stays open. The uPlot instances stay in window.wharfGraphs, the events in window.wharfGraphEvents.
(function () {
  "use strict";
  var REFRESH_MS = 30000;
  var SINCE = "1h";
  var MAX_POINTS = 1440;
  var MAX_EVENTS = 500;
  var HEIGHT = 180;
  var LABEL_ROWS = 4;
  var FROM_ZERO = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
  var section = document.getElementById("metrics");
  var status = document.getElementById("graphs-status");
  var typeSelect = document.getElementById("graphs-type");
  var eventList = document.getElementById("graph-events");
  if (!section || !window.uPlot) {
    return;
  }
  var STATUS_COLOURS = { "2xx": "#16a34a", "3xx": "#2563eb", "4xx": "#d97706", "5xx": "#dc2626" };
  var LIMIT_STYLE = { stroke: "#6b7280", width: 1, dash: [6, 4], points: { show: false } };

  function limit(name) {
    var option = typeSelect.options[typeSelect.selectedIndex];
    return option ? Number(option.dataset[name]) : null;
  }

  var GRAPHS = [
    {
      key: "response",
      series: [
        { label: "p50 ms", stroke: "#0891b2", width: 2 },
        { label: "p95 ms", stroke: "#7c3aed", width: 2 },
      ],
      values: (p) => [p.p50_ms, p.p95_ms],
    },
    {
      key: "throughput",
      series: Object.keys(STATUS_COLOURS).map(function (name) {
        return { label: name + "/min", stroke: STATUS_COLOURS[name], width: 2 };
      }),
      values: (p) => Object.keys(STATUS_COLOURS).map((name) => p.status[name]),
    },
    {
      key: "memory",
      y: FROM_ZERO,
      series: [
        { label: "RSS MB", stroke: "#059669", width: 2 },
        Object.assign({ label: "limit MB" }, LIMIT_STYLE),
      ],
      values: (p) => [p.memory_rss_mb, limit("memoryMb")],
    },
    {
      key: "load",
      y: FROM_ZERO,
      series: [
        { label: "CPU %", stroke: "#ea580c", width: 2 },
        Object.assign({ label: "dyno share %" }, LIMIT_STYLE),
      ],
      values: (p) => [p.cpu_percent, limit("cpuPercent")],
    },
  ];
  var graphs = {};
  var events = [];
  window.wharfGraphs = graphs;
  window.wharfGraphEvents = events;

  function columns(points, graph) {
    var data = [points.map((p) => Date.parse(p.time) / 1000)];
    var rows = points.map(graph.values);
    graph.series.forEach(function (_, index) {
      data.push(rows.map((row) => row[index]));
    });
    return data;
  }

  function width(element) {
    return Math.max(240, element.clientWidth || 240);
  }

  function eventTitle(event) {
    return event.label + " at " + new Date(event.time).toLocaleTimeString() + ": " + event.message;
  }

  // One absolutely placed element per event over the plot area, moved whenever uPlot redraws.
  function placeMarkers(plot) {
    var layer = plot.root.querySelector(".event-markers");
    if (!layer) {
      layer = document.createElement("div");
      layer.className = "event-markers";
      plot.over.appendChild(layer);
    }
    layer.replaceChildren();
    var range = plot.scales.x;
    var shown = 0;
    events.forEach(function (event) {
      var at = Date.parse(event.time) / 1000;
      if (range.min == null || at < range.min || at > range.max) {
        return;
      }
      var marker = document.createElement("div");
      marker.className = "event-marker ev-" + event.kind;
      marker.dataset.kind = event.kind;
      marker.dataset.time = String(at);
      marker.dataset.label = event.label;
      marker.title = eventTitle(event);
      var left = plot.valToPos(at, "x");
      marker.style.left = left + "px";
      // Labels read leftwards in the right half, and events close together stack theirs.
      if (left > plot.over.clientWidth / 2) {
        marker.classList.add("flipped");
      }
      var label = document.createElement("span");
      label.textContent = event.label;
      label.style.top = (shown++ % LABEL_ROWS) * 1.1 + "rem";
      marker.appendChild(label);
      layer.appendChild(marker);
    });
  }

  function draw(points) {
    points = points.slice(-MAX_POINTS);
    GRAPHS.forEach(function (graph) {
      var data = columns(points, graph);
      if (graphs[graph.key]) {
        graphs[graph.key].setData(data);
        return;
      }
      var element = document.getElementById("graph-" + graph.key);
      var options = {
        width: width(element),
        height: HEIGHT,
        series: [{}].concat(graph.series),
        axes: [{}, { size: 56 }],
        // The last point is the current minute: the axis runs to its end, so events of this minute show.
        scales: {
          x: { time: true, range: (u, min, max) => [min, Math.max(max + 60, Date.now() / 1000)] },
          y: graph.y || {},
        },
        cursor: { sync: { key: "wharf-graphs" } },
        hooks: { draw: [placeMarkers] },
      };
      graphs[graph.key] = new window.uPlot(options, data, element);
    });
  }

  function listEvents() {
    eventList.replaceChildren();
    events
      .slice()
      .reverse()
      .forEach(function (event) {
        var item = document.createElement("li");
        item.className = "event-item ev-" + event.kind;
        item.dataset.kind = event.kind;
        item.textContent = eventTitle(event);
        eventList.appendChild(item);
      });
  }

  function fetchJson(base) {
    var params = new URLSearchParams({ since: SINCE });
    if (typeSelect.value) {
      params.set("type", typeSelect.value);
    }
    return fetch(base + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(base.split("/").pop() + " answered " + response.status);
      }
      return response.json();
    });
  }

  function refresh() {
    Promise.all([fetchJson(section.dataset.metricsUrl), fetchJson(section.dataset.eventsUrl)])
      .then(function (answers) {
        events.splice(0, events.length, ...answers[1].slice(-MAX_EVENTS));
        draw(answers[0]);
        listEvents();
        section.dataset.refreshes = String(Number(section.dataset.refreshes || 0) + 1);
        status.textContent = "Last hour, per minute; updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function (error) {
        status.textContent = "Could not load metrics (" + error.message + "); retrying.";
      });
  }

  window.addEventListener("resize", function () {
    Object.keys(graphs).forEach(function (key) {
      var element = document.getElementById("graph-" + key);
      graphs[key].setSize({ width: width(element), height: HEIGHT });
    });
  });
  typeSelect.addEventListener("change", refresh);
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
