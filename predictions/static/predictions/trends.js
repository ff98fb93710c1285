/* The history page's "Over time" chart: heart rate (median, with its min-max band), AF burden,
 * extra beats and QTc across a patient's recordings (predictions.selectors.patient_trends).
 * A value a reading did not measure is a gap in its line, never a zero. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("trend-data").textContent);
  const canvas = document.getElementById("trend-chart");
  if (!canvas || !window.Chart || data.length < 2) return;
  const levelColour = { urgent: "#b02a37", abnormal: "#cc8a00", inconclusive: "#6c757d", normal: "#198754" };
  const labels = data.map(function (p) { return p.date; });
  const pick = function (f) { return data.map(function (p) { const v = f(p); return v == null ? null : v; }); };
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: labels,
      datasets: [
        { label: "Heart rate, max", data: pick(function (p) { return p.heart_rate.max; }), yAxisID: "bpm",
          borderWidth: 0, pointRadius: 0, backgroundColor: "rgba(13,110,253,0.12)", fill: "+1" },
        { label: "Heart rate, min", data: pick(function (p) { return p.heart_rate.min; }), yAxisID: "bpm",
          borderWidth: 0, pointRadius: 0 },
        { label: "Heart rate (median, /min)", data: pick(function (p) { return p.heart_rate.median; }), yAxisID: "bpm",
          borderColor: "#0d6efd", pointRadius: 5,
          pointBackgroundColor: data.map(function (p) { return levelColour[p.level] || "#6c757d"; }) },
        { label: "AF burden (%)", data: pick(function (p) { return p.af_burden_pct; }), yAxisID: "pct", borderColor: "#6f42c1" },
        { label: "Extra beats (%)", data: pick(function (p) { return p.ectopic_pct; }), yAxisID: "pct", borderColor: "#d63384" },
        { label: "QTc (ms)", data: pick(function (p) { return p.qtc_ms; }), yAxisID: "ms", borderColor: "#20c997" },
      ],
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      spanGaps: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { labels: { filter: function (item) { return !/, (max|min)$/.test(item.text); } } },
        tooltip: { callbacks: { footer: function (items) { return "Reading: " + data[items[0].dataIndex].level; } } },
      },
      scales: {
        bpm: { position: "left", title: { display: true, text: "/min" } },
        pct: { position: "right", min: 0, max: 100, title: { display: true, text: "%" }, grid: { drawOnChartArea: false } },
        ms: { position: "right", title: { display: true, text: "ms" }, grid: { drawOnChartArea: false } },
      },
    },
  });
})();
