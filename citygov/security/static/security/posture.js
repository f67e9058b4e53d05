/*
 * The agency security posture charts, drawn with Apache ECharts (vendored, no CDN). Each element with
 * data-security-chart="identification|coverage|severity" carries:
 *   data-series     JSON {labels: [...], values: [...]} (coverage: {labels, yes, no}); labels are
 *                   translated by the server, so this file holds no UI text
 *   data-text-*     translated series names (coverage) and the error text
 * When drawn the element gets data-chart-ready="true" (for tests).
 */
(function () {
  "use strict";

  var SEVERITY_COLOURS = ["#8e1b1b", "#c0392b", "#e67e22", "#f1c40f", "#95a5a6", "#2e7d4f"];

  function option(kind, element, data) {
    if (kind === "identification") {
      return {
        color: ["#2e7d4f", "#5dade2", "#c0392b"],
        tooltip: {trigger: "item", formatter: "{b}: {c} ({d}%)"},
        legend: {bottom: 0},
        series: [{
          type: "pie", radius: ["45%", "70%"], center: ["50%", "45%"], avoidLabelOverlap: true, percentPrecision: 0,
          label: {formatter: "{d}%"},
          data: data.labels.map(function (label, i) { return {name: label, value: data.values[i]}; })
        }]
      };
    }
    if (kind === "coverage") {
      return {
        color: ["#2e7d4f", "#c0392b"],
        tooltip: {trigger: "axis"},
        legend: {top: 0},
        grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
        xAxis: {type: "value", minInterval: 1},
        yAxis: {type: "category", data: data.labels, inverse: true},
        series: [
          {name: element.getAttribute("data-text-yes"), type: "bar", stack: "all", data: data.yes},
          {name: element.getAttribute("data-text-no"), type: "bar", stack: "all", data: data.no}
        ]
      };
    }
    return {
      tooltip: {trigger: "axis"},
      grid: {left: 16, right: 16, top: 16, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.labels, axisLabel: {interval: 0}},
      yAxis: {type: "value", minInterval: 1},
      series: [{
        type: "bar",
        data: data.values.map(function (value, i) {
          return {value: value, itemStyle: {color: SEVERITY_COLOURS[i % SEVERITY_COLOURS.length]}};
        })
      }]
    };
  }

  function draw(element) {
    var data;
    try {
      data = JSON.parse(element.getAttribute("data-series"));
    } catch (error) {
      fail(element);
      return;
    }
    if (typeof window.echarts === "undefined") {
      fail(element);
      return;
    }
    var chart = window.echarts.init(element, null, {renderer: "svg"});
    var settings = option(element.getAttribute("data-security-chart"), element, data);
    settings.animation = false;
    chart.setOption(settings);
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-chart-ready", "true");
  }

  function fail(element) {
    element.classList.add("map-error");
    element.textContent = element.getAttribute("data-text-error") || "";
  }

  function start() {
    var elements = document.querySelectorAll("[data-security-chart]");
    for (var i = 0; i < elements.length; i += 1) {
      draw(elements[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
