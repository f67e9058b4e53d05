/*
 * Points analytics charts and the merchant district map, drawn with Apache ECharts.
 *
 * Elements with data-analytics-chart="monthly|yoy|daily|districts" carry their figures as JSON in
 * data-series and translated labels in data-text-*, so this file holds no UI text.
 * The element with data-merchant-map fetches data-url: {geojson: FeatureCollection whose features
 * carry code, name_zh, name_en, merchants, enabled, rate; merchants: [{name, category, district, lon,
 * lat, points_enabled}]} and draws a choropleth of the enablement rate with the merchants as dots.
 * When drawn, elements get data-chart-ready="true" / data-map-ready="true" (for tests).
 */
(function () {
  "use strict";

  var COLOURS = {issued: "#1f5f99", spent: "#2e7d4f", expired: "#f2a516", previous: "#9aa7b4",
    alert: "#b3261e", enabled: "#2e7d4f", never: "#c4ccd4"};
  var MAP_NAME = "citygov-points-districts";

  function text(el, name) {
    return el.getAttribute("data-text-" + name) || name;
  }

  function fail(el, error) {
    el.classList.add("map-error");
    el.textContent = el.getAttribute("data-text-error") || "";
    if (error) { console.warn("points analytics:", error); }
  }

  function monthly(el, data) {
    return {
      tooltip: {trigger: "axis"}, legend: {top: 0},
      grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.months}, yAxis: {type: "value", minInterval: 1},
      series: [
        {name: text(el, "issued"), type: "bar", data: data.issued, itemStyle: {color: COLOURS.issued}},
        {name: text(el, "spent"), type: "bar", data: data.spent, itemStyle: {color: COLOURS.spent}},
        {name: text(el, "expired"), type: "bar", data: data.expired, itemStyle: {color: COLOURS.expired}},
        {name: text(el, "previous-issued"), type: "line", data: data.previous_issued,
          lineStyle: {type: "dashed", color: COLOURS.issued}, itemStyle: {color: COLOURS.issued}},
        {name: text(el, "previous-spent"), type: "line", data: data.previous_spent,
          lineStyle: {type: "dashed", color: COLOURS.spent}, itemStyle: {color: COLOURS.spent}}
      ]
    };
  }

  function yoy(el, data) {
    var threshold = data.threshold;
    function bar(name, values, colour) {
      return {name: text(el, name), type: "bar", data: values.map(function (value) {
        var alert = value !== null && value < threshold;
        return {value: value, itemStyle: {color: alert ? COLOURS.alert : colour}};
      })};
    }
    var spent = bar("spent", data.spent, COLOURS.spent);
    spent.markLine = {symbol: "none", lineStyle: {color: COLOURS.alert, type: "dashed"},
      label: {formatter: text(el, "threshold") + " " + threshold + "%"}, data: [{yAxis: threshold}]};
    return {
      tooltip: {trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; }},
      legend: {top: 0}, grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.months},
      yAxis: {type: "value", axisLabel: {formatter: "{value}%"}},
      series: [bar("issued", data.issued, COLOURS.issued), spent]
    };
  }

  function daily(el, data) {
    return {
      tooltip: {trigger: "axis"}, legend: {top: 0},
      grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.days},
      yAxis: [{type: "value", minInterval: 1}, {type: "value", minInterval: 1}],
      series: [
        {name: text(el, "spent"), type: "bar", data: data.spent, yAxisIndex: 1, itemStyle: {color: COLOURS.spent}},
        {name: text(el, "transactions"), type: "line", data: data.transactions, itemStyle: {color: COLOURS.issued}}
      ]
    };
  }

  function districts(el, data) {
    return {
      tooltip: {trigger: "axis"}, legend: {top: 0},
      grid: {left: 16, right: 16, top: 36, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: data.districts}, yAxis: {type: "value", minInterval: 1},
      series: [
        {name: text(el, "enabled"), type: "bar", stack: "m", data: data.enabled, itemStyle: {color: COLOURS.enabled}},
        {name: text(el, "never"), type: "bar", stack: "m", data: data.never, itemStyle: {color: COLOURS.never}}
      ]
    };
  }

  var BUILDERS = {monthly: monthly, yoy: yoy, daily: daily, districts: districts};

  function drawChart(el) {
    var data;
    try {
      data = JSON.parse(el.getAttribute("data-series"));
    } catch (error) {
      fail(el, error);
      return;
    }
    var build = BUILDERS[el.getAttribute("data-analytics-chart")];
    if (typeof window.echarts === "undefined" || !build) {
      fail(el, "echarts or the chart kind is missing");
      return;
    }
    var chart = window.echarts.init(el, null, {renderer: "svg"});
    var option = build(el, data);
    option.animation = false;
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-chart-ready", "true");
  }

  function drawMap(el) {
    if (typeof window.echarts === "undefined") {
      fail(el, "echarts.min.js did not load");
      return;
    }
    var lang = el.getAttribute("data-lang") || "";
    var encode = window.echarts.format.encodeHTML;
    fetch(el.getAttribute("data-url"), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("map data answered HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var features = data.geojson.features || [];
        var byCode = {};
        features.forEach(function (f) { byCode[f.properties.code] = f.properties; });
        window.echarts.registerMap(MAP_NAME, data.geojson);
        var chart = window.echarts.init(el, null, {renderer: "svg"});
        function name(props) {
          return lang.indexOf("zh") === 0 ? props.name_zh : props.name_en;
        }
        chart.setOption({
          animation: false,
          tooltip: {trigger: "item", formatter: function (params) {
            if (params.seriesType === "scatter") {
              var m = params.data.merchant;
              return "<strong>" + encode(m.name) + "</strong><br>" + encode(m.category || "") + " " +
                encode(m.district || "") + "<br>" + encode(text(el, m.points_enabled ? "enabled" : "disabled"));
            }
            var props = byCode[params.name];
            if (!props) { return ""; }
            var rate = props.rate === null ? text(el, "no-data") : (100 * props.rate).toFixed(1) + "%";
            return "<strong>" + encode(name(props)) + "</strong><br>" + encode(text(el, "merchants")) + ": " +
              props.merchants + "<br>" + encode(text(el, "rate")) + ": " + encode(rate);
          }},
          visualMap: {type: "continuous", min: 0, max: 100, left: 8, bottom: 8, seriesIndex: 0,
            text: ["100%", "0%"], calculable: false, itemHeight: 90,
            inRange: {color: ["#f6d5cf", "#f2e3b3", "#bfe0c6", "#2e7d4f"]}, outOfRange: {color: "#e3eaf1"}},
          geo: {map: MAP_NAME, nameProperty: "code", roam: true, layoutCenter: ["50%", "50%"], layoutSize: "95%",
            itemStyle: {areaColor: "#e3eaf1", borderColor: "#ffffff"},
            label: {show: true, fontSize: 11, formatter: function (p) { return byCode[p.name] ? name(byCode[p.name]) : ""; }}},
          series: [
            {type: "map", geoIndex: 0, data: features.map(function (f) {
              var rate = f.properties.rate;
              return {name: f.properties.code, value: rate === null ? null : Math.round(1000 * rate) / 10};
            })},
            {type: "scatter", coordinateSystem: "geo", symbolSize: 7, data: (data.merchants || []).map(function (m) {
              return {value: [m.lon, m.lat], merchant: m,
                itemStyle: {color: m.points_enabled ? "#1f5f99" : "#6b7785", borderColor: "#ffffff", borderWidth: 1}};
            })}
          ]
        });
        window.addEventListener("resize", function () { chart.resize(); });
        el.setAttribute("data-map-ready", "true");
        el.setAttribute("data-merchant-count", String((data.merchants || []).length));
      })
      .catch(function (error) { fail(el, error); });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-analytics-chart]"), drawChart);
    Array.prototype.forEach.call(document.querySelectorAll("[data-merchant-map]"), drawMap);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
