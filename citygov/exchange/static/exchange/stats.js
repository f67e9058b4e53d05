/*
 * The exchange traffic chart: requests and errors per service (bars) and p50/p95 latency (lines, right
 * axis), drawn with Apache ECharts. The element with data-exchange-chart carries:
 *   data-series  JSON {services: [...], count: [...], errors: [...], p50: [...], p95: [...]}
 *   data-text-*  translated series names and the error text, so this file holds no UI text
 * When drawn the element gets data-chart-ready="true" (for tests).
 */
(function () {
  "use strict";

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
    var text = function (name) { return element.getAttribute("data-text-" + name) || name; };
    var chart = window.echarts.init(element, null, {renderer: "svg"});
    chart.setOption({
      animation: false,
      color: ["#1f5f99", "#c0392b", "#2e7d4f", "#f2a516"],
      tooltip: {trigger: "axis"},
      legend: {top: 0},
      grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.services, axisLabel: {interval: 0, rotate: 20}},
      yAxis: [{type: "value", minInterval: 1}, {type: "value", name: "ms"}],
      series: [
        {name: text("count"), type: "bar", data: data.count},
        {name: text("errors"), type: "bar", data: data.errors},
        {name: text("p50"), type: "line", yAxisIndex: 1, data: data.p50},
        {name: text("p95"), type: "line", yAxisIndex: 1, data: data.p95}
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-chart-ready", "true");
  }

  function fail(element) {
    element.textContent = element.getAttribute("data-text-error") || "";
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-exchange-chart]"), draw);
  });
})();
