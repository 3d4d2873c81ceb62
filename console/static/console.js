// The overview's chart: firings per day and rule, from the JSON the page carries (no inline script).
(function () {
  "use strict";
  var data = document.getElementById("firings-data");
  var target = document.getElementById("firings-chart");
  if (!data || !target || typeof uPlot === "undefined") { return; }
  var chart = JSON.parse(data.textContent);
  var days = chart.days.map(function (day) { return Date.parse(day + "T12:00:00Z") / 1000; });
  var rules = Object.keys(chart.rules);
  var palette = ["#0747a6", "#bf2600", "#006644", "#ff8b00", "#5243aa", "#00875a", "#de350b", "#0065ff", "#403294", "#ffab00"];
  var series = [{}].concat(rules.map(function (rule, n) {
    return { label: rule, stroke: palette[n % palette.length], width: 2 };
  }));
  var width = Math.max(280, Math.min(target.clientWidth || 900, 1200));
  new uPlot({ width: width, height: 300, series: series, axes: [{}, { label: "firings" }], scales: { x: { time: true } } },
            [days].concat(rules.map(function (rule) { return chart.rules[rule]; })), target);
})();
