/*
 * SOC analytics charts, drawn with Apache ECharts. Elements with data-soc-chart="categories|matrix|trend"
 * carry the figures as JSON in data-series ({categories: [{name, value}], severities: [...],
 * months: [...], counts: [...], deviates: [...], matrix: {categories, severities, cells: [[x, y, n]]}})
 * and translated labels in data-text-*, so this file holds no UI text.
 * When drawn, an element gets data-chart-ready="true" (for tests).
 */
(function () {
  "use strict";

  var COLOURS = {bar: "#1f5f99", alert: "#b3261e"};

  function text(el, name) {
    return el.getAttribute("data-text-" + name) || name;
  }

  function options(el, kind, data) {
    if (kind === "categories") {
      return {tooltip: {trigger: "item", formatter: "{b}: {c} ({d}%)"},
        series: [{type: "pie", radius: ["35%", "70%"], data: data.categories}]};
    }
    if (kind === "matrix") {
      var max = 1;
      data.matrix.cells.forEach(function (c) { max = Math.max(max, c[2]); });
      return {tooltip: {position: "top"}, grid: {left: 16, right: 16, top: 8, bottom: 48, containLabel: true},
        xAxis: {type: "category", data: data.matrix.categories, axisLabel: {rotate: 30}},
        yAxis: {type: "category", data: data.matrix.severities},
        visualMap: {min: 0, max: max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
          inRange: {color: ["#e8eef5", COLOURS.bar]}},
        series: [{type: "heatmap", data: data.matrix.cells, label: {show: true}}]};
    }
    return {tooltip: {trigger: "axis"}, grid: {left: 16, right: 16, top: 16, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.months}, yAxis: {type: "value", minInterval: 1},
      series: [{name: text(el, "alerts"), type: "bar", data: data.counts.map(function (value, i) {
        return {value: value, itemStyle: {color: data.deviates[i] ? COLOURS.alert : COLOURS.bar}};
      })}]};
  }

  function draw(el) {
    try {
      var data = JSON.parse(el.getAttribute("data-series"));
      var chart = window.echarts.init(el);
      chart.setOption(options(el, el.getAttribute("data-soc-chart"), data));
      window.addEventListener("resize", function () { chart.resize(); });
      el.setAttribute("data-chart-ready", "true");
    } catch (error) {
      el.classList.add("map-error");
      el.textContent = el.getAttribute("data-text-error") || "";
      console.warn("soc charts:", error);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-soc-chart]").forEach(draw);
  });
})();
