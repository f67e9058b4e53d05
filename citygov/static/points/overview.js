/*
 * The points overview chart: points issued, spent (net of refunds) and expired per month, drawn with
 * Apache ECharts. The element with data-points-chart carries:
 *   data-series     JSON {months: ["2026-01", ...], issued: [...], spent: [...], expired: [...]}
 *   data-text-*     translated series names and the error text, so this file holds no UI text
 * When drawn the element gets data-chart-ready="true" (for tests).
 */
(function () {
  "use strict";

  var COLOURS = {issued: "#1f5f99", spent: "#2e7d4f", expired: "#f2a516"};

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
    var names = ["issued", "spent", "expired"];
    var chart = window.echarts.init(element, null, {renderer: "svg"});
    chart.setOption({
      animation: false,
      color: names.map(function (name) { return COLOURS[name]; }),
      tooltip: {trigger: "axis"},
      legend: {top: 0},
      grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.months},
      yAxis: {type: "value", minInterval: 1},
      series: names.map(function (name) {
        return {
          name: element.getAttribute("data-text-" + name) || name,
          type: "bar",
          data: data[name] || []
        };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.setAttribute("data-chart-ready", "true");
  }

  function fail(element) {
    element.classList.add("map-error");
    element.textContent = element.getAttribute("data-text-error") || "";
  }

  function start() {
    var elements = document.querySelectorAll("[data-points-chart]");
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
