// Draw the usage dashboard's charts from the report embedded by json_script.
(function () {
  "use strict";
  const source = document.getElementById("usage-data");
  if (!source || typeof Chart === "undefined") return;
  const report = JSON.parse(source.textContent);
  const palette = ["#0d6efd", "#c0392b", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#6c757d", "#d63384"];
  const statusColours = {pending: "#adb5bd", running: "#0dcaf0", done: "#198754", failed: "#dc3545", inconclusive: "#ffc107"};
  const label = (s) => s.charAt(0).toUpperCase() + s.slice(1);
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new Chart(canvas, config);
  }
  const days = report.signups_per_day.map((d) => d.date);
  const integerAxis = {beginAtZero: true, ticks: {precision: 0}};

  draw("chart-users-per-day", {
    type: "line",
    data: {labels: days, datasets: [
      {label: "New sign-ups", data: report.signups_per_day.map((d) => d.count), borderColor: palette[0], backgroundColor: palette[0], tension: 0.2},
      {label: "Active users (signed in or uploaded)", data: report.active_users_per_day.map((d) => d.count), borderColor: palette[2], backgroundColor: palette[2], tension: 0.2},
    ]},
    options: {scales: {y: integerAxis}},
  });
  draw("chart-uploads", {
    type: "bar",
    data: {labels: report.uploads_per_day.map((d) => d.date), datasets: [
      {label: "Images", data: report.uploads_per_day.map((d) => d.image), backgroundColor: palette[0]},
      {label: "Signal files", data: report.uploads_per_day.map((d) => d.signal), backgroundColor: palette[3]},
    ]},
    options: {scales: {x: {stacked: true}, y: {...integerAxis, stacked: true}}},
  });
  const doughnut = (id, data) => draw(id, {
    type: "doughnut",
    data: {labels: Object.keys(data).map(label), datasets: [{data: Object.values(data), backgroundColor: palette}]},
    options: {plugins: {legend: {position: "bottom"}}},
  });
  doughnut("chart-roles", report.users_by_role);
  doughnut("chart-signup-methods", {Form: report.users_by_signup_method.form, Google: report.users_by_signup_method.google, LinkedIn: report.users_by_signup_method.linkedin});
  const statuses = Object.keys(report.predictions_by_status);
  draw("chart-status", {
    type: "bar",
    data: {labels: statuses.map(label), datasets: [{label: "Predictions", data: Object.values(report.predictions_by_status), backgroundColor: statuses.map((s) => statusColours[s] || palette[6])}]},
    options: {plugins: {legend: {display: false}}, scales: {y: integerAxis}},
  });
  draw("chart-classes", {
    type: "bar",
    data: {labels: report.predictions_by_class.map((c) => c.code), datasets: [{label: "Predictions with this class", data: report.predictions_by_class.map((c) => c.predictions), backgroundColor: palette[4]}]},
    options: {plugins: {legend: {display: false}, tooltip: {callbacks: {title: (items) => report.predictions_by_class[items[0].dataIndex].name}}}, scales: {y: integerAxis}},
  });
  document.documentElement.dataset.chartsReady = "true";
})();
