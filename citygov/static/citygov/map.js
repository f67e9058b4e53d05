/*
 * District maps drawn with Apache ECharts from the districts GeoJSON (no tile server).
 *
 * Any element with data-district-map becomes a map:
 *   data-geojson-url    the FeatureCollection to draw (properties: code, name_zh, name_en, agency_count)
 *   data-mode           "full" (labels, shading by agency count) or "mini" (one district highlighted)
 *   data-lang           page language: district names in Chinese, or English with the Chinese after
 *   data-highlight      district code to highlight from the start
 *   data-agency-select  id of a <select> whose options carry data-district; choosing one highlights it
 *   data-status         id of an element that says which district is highlighted
 *   data-text-*         translated strings, so this file holds no UI text
 * When drawing has finished the element gets data-map-ready="true" and data-region-count (for tests).
 */
(function () {
  "use strict";

  var MAP_NAME = "citygov-districts";
  var COLOURS = {
    low: "#dce8f3",
    high: "#1f5f99",
    plain: "#e3eaf1",
    border: "#ffffff",
    selected: "#f2a516",
    selectedBorder: "#7a4a00"
  };
  var geojsonRequests = {};

  function loadGeojson(url) {
    // Several maps on one page share one request.
    if (!geojsonRequests[url]) {
      geojsonRequests[url] = fetch(url, {credentials: "same-origin", headers: {Accept: "application/geo+json"}})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("districts GeoJSON answered HTTP " + response.status);
          }
          return response.json();
        });
    }
    return geojsonRequests[url];
  }

  function displayName(props, lang) {
    if (lang && lang.indexOf("zh") === 0) {
      return props.name_zh;
    }
    return props.name_en + " (" + props.name_zh + ")";
  }

  function seriesData(features, highlight, full) {
    return features.map(function (feature) {
      var props = feature.properties;
      var item = {name: props.code, value: props.agency_count};
      if (props.code === highlight) {
        if (full) {
          // The full map is clickable: use ECharts' own selection so a click moves the highlight.
          item.selected = true;
        } else {
          item.itemStyle = {areaColor: COLOURS.selected, borderColor: COLOURS.selectedBorder, borderWidth: 2};
          item.label = {show: true, fontWeight: "bold"};
        }
      }
      return item;
    });
  }

  function buildOption(el, features, byCode, highlight) {
    var lang = el.dataset.lang || "";
    var full = el.dataset.mode !== "mini";
    var maxCount = features.reduce(function (max, f) { return Math.max(max, f.properties.agency_count); }, 0);
    var encode = echarts.format.encodeHTML;
    var option = {
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: function (params) {
          var props = byCode[params.name];
          if (!props) {
            return "";
          }
          return "<strong>" + encode(displayName(props, lang)) + "</strong><br>" +
            encode(el.dataset.textAgencies || "") + ": " + encode(String(props.agency_count));
        }
      },
      series: [{
        type: "map",
        map: MAP_NAME,
        nameProperty: "code",
        roam: full,
        scaleLimit: {min: 1, max: 8},
        selectedMode: full ? "single" : false,
        layoutCenter: ["50%", "50%"],
        layoutSize: "95%",
        itemStyle: {areaColor: COLOURS.plain, borderColor: COLOURS.border, borderWidth: 1},
        label: {
          show: full,
          fontSize: 11,
          color: "#1b2733",
          // A white halo keeps names readable on the darkest shade.
          textBorderColor: "rgba(255, 255, 255, 0.85)",
          textBorderWidth: 2,
          formatter: function (params) {
            var props = byCode[params.name];
            return props ? (lang.indexOf("zh") === 0 ? props.name_zh : props.name_en.replace(/ District$/, "")) : "";
          }
        },
        emphasis: {itemStyle: {areaColor: "#ffd98a"}, label: {show: true}},
        select: {
          itemStyle: {areaColor: COLOURS.selected, borderColor: COLOURS.selectedBorder, borderWidth: 2},
          label: {show: true, fontWeight: "bold", color: "#1b2733"}
        },
        data: seriesData(features, highlight, full)
      }]
    };
    if (full) {
      option.visualMap = {
        type: "continuous",
        min: 0,
        max: Math.max(maxCount, 1),
        left: 8,
        bottom: 8,
        calculable: false,
        itemHeight: 90,
        text: [String(Math.max(maxCount, 1)), "0"],
        textStyle: {color: "#44505c"},
        inRange: {color: [COLOURS.low, COLOURS.high]}
      };
    }
    return option;
  }

  function setStatus(el, text) {
    var status = el.dataset.status && document.getElementById(el.dataset.status);
    if (status) {
      status.textContent = text;
    }
  }

  function showError(el, error) {
    el.textContent = el.dataset.textError || "";
    el.classList.add("map-error");
    el.dataset.mapReady = "error";
    // A warning, not an error: the page explains the failure to the reader itself.
    console.warn("citygov map:", error);
  }

  function init(el) {
    if (typeof echarts === "undefined") {
      showError(el, "echarts.min.js did not load");
      return;
    }
    loadGeojson(el.dataset.geojsonUrl).then(function (geojson) {
      var features = geojson.features || [];
      var byCode = {};
      features.forEach(function (feature) { byCode[feature.properties.code] = feature.properties; });
      echarts.registerMap(MAP_NAME, geojson);

      var chart = echarts.init(el, null, {renderer: "canvas"});
      var select = el.dataset.agencySelect && document.getElementById(el.dataset.agencySelect);

      function highlightFromSelect() {
        var option = select.options[select.selectedIndex];
        var code = option ? option.dataset.district || "" : "";
        var previous = el.dataset.highlight || "";
        // Selection is chart state: move it with actions (re-sending data would leave the old one selected).
        if (previous && previous !== code) {
          chart.dispatchAction({type: "unselect", seriesIndex: 0, name: previous});
        }
        if (code && byCode[code]) {
          chart.dispatchAction({type: "select", seriesIndex: 0, name: code});
        }
        el.dataset.highlight = code;
        if (!select.value) {
          setStatus(el, "");
        } else if (code && byCode[code]) {
          setStatus(el, (el.dataset.textDistrict || "") + ": " + displayName(byCode[code], el.dataset.lang || ""));
        } else {
          setStatus(el, el.dataset.textNoDistrict || "");
        }
      }

      chart.on("finished", function () {
        el.dataset.regionCount = String(chart.getOption().series[0].data.length);
        el.dataset.mapReady = "true";
      });
      chart.setOption(buildOption(el, features, byCode, el.dataset.highlight || ""));

      if (select) {
        select.addEventListener("change", function () {
          highlightFromSelect();
          // Keep the address shareable: ?agency=<id> preselects the same agency.
          var url = new URL(window.location.href);
          if (select.value) {
            url.searchParams.set("agency", select.value);
          } else {
            url.searchParams.delete("agency");
          }
          window.history.replaceState(null, "", url);
        });
        highlightFromSelect();
      }
      if (typeof ResizeObserver !== "undefined") {
        new ResizeObserver(function () { chart.resize(); }).observe(el);
      }
    }).catch(function (error) { showError(el, error); });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-district-map]"), init);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
