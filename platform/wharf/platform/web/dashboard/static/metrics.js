// The app page's graphs: requests per minute (and the 5xx among them), p95 response time and memory
// RSS of the last hour, drawn with the vendored uPlot from the app's metrics (the same points as
// `wharf metrics --json`), redrawn every 30 seconds. The uPlot instances stay in window.wharfGraphs.
(function () {
  "use strict";
  var REFRESH_MS = 30000;
  var section = document.getElementById("metrics");
  var status = document.getElementById("graphs-status");
  if (!section || !window.uPlot) {
    return;
  }
  var url = section.dataset.metricsUrl;
  var GRAPHS = [
    {
      key: "requests",
      series: [
        { label: "requests/min", stroke: "#2563eb", width: 2, value: (u, v) => (v == null ? "-" : v) },
        { label: "5xx/min", stroke: "#dc2626", width: 1 },
      ],
      values: (p) => [p.requests, p.status["5xx"]],
    },
    {
      key: "p95",
      series: [{ label: "p95 ms", stroke: "#7c3aed", width: 2 }],
      values: (p) => [p.p95_ms],
    },
    {
      key: "memory",
      series: [{ label: "memory RSS MB", stroke: "#059669", width: 2 }],
      values: (p) => [p.memory_rss_mb],
    },
  ];
  var graphs = {};
  window.wharfGraphs = graphs;

  function columns(points, graph) {
    var data = [points.map((p) => Date.parse(p.time) / 1000)];
    graph.series.forEach(function (_, index) {
      data.push(points.map((p) => graph.values(p)[index]));
    });
    return data;
  }

  function width(element) {
    return Math.max(240, element.clientWidth || 240);
  }

  function draw(points) {
    GRAPHS.forEach(function (graph) {
      var data = columns(points, graph);
      if (graphs[graph.key]) {
        graphs[graph.key].setData(data);
        return;
      }
      var element = document.getElementById("graph-" + graph.key);
      var options = {
        width: width(element),
        height: 180,
        series: [{}].concat(graph.series),
        axes: [{}, { size: 56 }],
        scales: { x: { time: true } },
      };
      graphs[graph.key] = new window.uPlot(options, data, element);
    });
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("metrics answered " + response.status);
        }
        return response.json();
      })
      .then(function (points) {
        draw(points);
        status.textContent = "Last hour, per minute; updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function (error) {
        status.textContent = "Could not load metrics (" + error.message + "); retrying.";
      });
  }

  window.addEventListener("resize", function () {
    Object.keys(graphs).forEach(function (key) {
      var element = document.getElementById("graph-" + key);
      graphs[key].setSize({ width: width(element), height: 180 });
    });
  });
  refresh();
  window.setInterval(refresh, REFRESH_MS);
})();
