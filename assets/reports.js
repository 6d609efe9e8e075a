// Charts of the reports dashboard (SPEC R2) and the report pages (R3), drawn with Apache ECharts from
// the JSON the page carries (#report-data). Target lines are drawn from the
// SPEC targets; values that miss their target are red.
(function () {
  "use strict";
  var RED = "#c41d24", BLUE = "#1f5fd6", GREEN = "#1a9c5b", COLORS = [BLUE, "#13a8a8", "#8a5cd1", "#e08a00", "#6b7a90", "#d4508a", "#2f9e44"];
  function draw() {
    // Print buttons (inline handlers are refused by the page's CSP).
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    var el = document.getElementById("report-data");
    if (!el || !window.echarts) return;
    var d = JSON.parse(el.textContent);
    var charts = [];
    function chart(id, option) {
      var box = document.getElementById(id);
      if (!box) return;
      var c = window.echarts.init(box, null, { renderer: "canvas" });
      c.setOption(Object.assign({ animation: false, color: COLORS, textStyle: { fontFamily: "system-ui, 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif" } }, option));
      charts.push(c);
      box.setAttribute("data-rendered", "1");
    }
    function missed(v, target, atLeast) {
      return v !== null && target !== null && target !== undefined && (atLeast ? v < target - 1e-9 : v > target + 1e-9);
    }
    function line(series, unit) {
      return series.map(function (s) {
        var out = {
          name: s.label, type: "line", connectNulls: false, symbolSize: 7,
          data: s.values.map(function (v) {
            return { value: v, itemStyle: { color: missed(v, s.target, s.at_least) ? RED : undefined } };
          })
        };
        if (s.target !== null && s.target !== undefined) {
          out.markLine = { symbol: "none", silent: true, lineStyle: { color: RED, type: "dashed" },
            label: { formatter: d.labels.target + " " + s.target + unit }, data: [{ yAxis: s.target }] };
        }
        return out;
      });
    }
    if (d.rates) chart("chart-rates", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 84, top: 36, bottom: 28 },
      xAxis: { type: "category", data: d.periods, axisLabel: { interval: d.periods.length <= 12 ? 0 : "auto" } },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: line(d.rates, "%")
    });
    if (d.times) chart("chart-times", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 24, top: 36, bottom: 28 },
      xAxis: { type: "category", data: d.periods }, yAxis: { type: "value", min: 0 },
      series: line(d.times, "")
    });
    if (d.gauges) chart("chart-gauges", {
      series: d.gauges.map(function (g, i) {
        var color = g.missed ? RED : GREEN;
        return {
          type: "gauge", center: [(25 + 50 * i) + "%", "58%"], radius: "78%", min: 0, max: 100,
          progress: { show: true, width: 12, itemStyle: { color: color } },
          axisLine: { lineStyle: { width: 12 } }, pointer: { show: false }, splitLine: { length: 8 }, axisTick: { show: false },
          axisLabel: { distance: 16, fontSize: 10 },
          title: { offsetCenter: [0, "72%"], fontSize: 13 },
          detail: { valueAnimation: false, offsetCenter: [0, "10%"], fontSize: 22, color: color,
            formatter: function (v) { return g.value === null ? "—" : v + "%"; } },
          markLine: undefined,
          data: [{ value: g.value === null ? 0 : g.value, name: g.label + (g.target ? "（" + d.labels.target + " ≥ " + g.target + "%）" : "") }]
        };
      })
    });
    if (d.pareto) chart("chart-pareto", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 48, top: 36, bottom: 28 },
      xAxis: { type: "category", data: d.pareto.labels },
      yAxis: [{ type: "value", name: d.labels.tickets, min: 0 }, { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }],
      series: [
        { name: d.labels.tickets, type: "bar", data: d.pareto.counts, itemStyle: { color: BLUE } },
        { name: d.labels.cumulative, type: "line", yAxisIndex: 1, data: d.pareto.cumulative, itemStyle: { color: "#e08a00" },
          markLine: { symbol: "none", silent: true, label: { show: false }, lineStyle: { color: RED, type: "dashed" }, data: [{ yAxis: 80 }] } }
      ]
    });
    if (d.tiers) chart("chart-tiers", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 64, right: 24, top: 36, bottom: 28 },
      xAxis: { type: "value" }, yAxis: { type: "category", data: d.tiers.tiers },
      series: d.tiers.activities.map(function (a, j) {
        return { name: a, type: "bar", stack: "all", data: d.tiers.data.map(function (row) { return row[j]; }) };
      })
    });
    if (d.mix) chart("chart-mix", {
      tooltip: { trigger: "item", formatter: function (p) { return p.name + ": " + p.value + " (" + (p.data.share || "") + ")"; } },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["38%", "68%"], center: ["50%", "45%"],
        label: { formatter: function (p) { return p.name + " " + (p.data.share || ""); } },
        data: d.mix.length ? d.mix : [{ name: d.labels.no_data, value: 0 }] }]
    });
    if (d.needs) chart("chart-needs", {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } }, legend: { top: 0 }, grid: { left: 88, right: 24, top: 56, bottom: 28 },
      xAxis: { type: "value", minInterval: 1, name: d.labels.needs },
      yAxis: { type: "category", data: d.needs.departments.length ? d.needs.departments : [d.labels.no_data] },
      series: d.needs.statuses.map(function (s, j) {
        // Submitted, evaluating, accepted, planned, delivered (green), declined (grey).
        var color = [BLUE, "#13a8a8", "#8a5cd1", "#e08a00", GREEN, "#9aa3b2"][j];
        return { name: s, type: "bar", stack: "all", barMaxWidth: 28, itemStyle: { color: color }, data: d.needs.data.map(function (row) { return row[j] || null; }) };
      })
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    document.body.setAttribute("data-charts", String(charts.length));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
