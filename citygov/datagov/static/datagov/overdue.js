/*
 * The overdue dashboard chart: overdue and on-time datasets per agency (stacked bars), drawn with
 * Apache ECharts. The element with data-datagov-chart carries:
 *   data-series     JSON {agencies: [...], overdue: [...], on_time: [...]}
 *   data-text-*     translated series names and the error text, so this file holds no UI text
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
    var chart = window.echarts.init(element, null, {renderer: "svg"});
    chart.setOption({
      animation: false,
      color: ["#c0392b", "#2e7d4f"],
      tooltip: {trigger: "axis"},
      legend: {top: 0},
      grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "value", minInterval: 1},
      yAxis: {type: "category", data: data.agencies, inverse: true, axisLabel: {interval: 0}},
      series: [
        {name: element.getAttribute("data-text-overdue"), type: "bar", stack: "all", data: data.overdue},
        {name: element.getAttribute("data-text-on-time"), type: "bar", stack: "all", data: data.on_time}
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-chart-ready", "true");
  }

  function fail(element) {
    element.classList.add("map-error");
    element.textContent = element.getAttribute("data-text-error") || "";
  }

  function start() {
    var elements = document.querySelectorAll("[data-datagov-chart]");
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
