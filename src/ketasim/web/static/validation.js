// The Validation page (templates/validation.html.j2).
"use strict";
async function report() {
  for (;;) {  // the first request starts the computation; poll until it is done
    const response = await fetch("/api/validation");
    const doc = await response.json();
    if (response.status !== 202) {
      if (!response.ok) throw new Error(JSON.stringify(doc.detail));
      return doc;
    }
    document.getElementById("summary").textContent = `Computing the validation… ${Math.round(100 * doc.progress)}%`;
    await new Promise(r => setTimeout(r, 1000 * Math.min(10, +(response.headers.get("Retry-After") || 2))));
  }
}
document.addEventListener("DOMContentLoaded", async () => {
  const doc = await report();
  const rows = doc.targets.filter(r => r.predicted !== null);
  const fitted = doc.targets.filter(r => r.used_in_calibration).length;
  document.getElementById("summary").textContent = `${doc.passed} of ${doc.total} targets pass (${(100 * doc.passed / doc.total).toFixed(1)}%); ` +
    `${fitted} of them were used to calibrate these parameters, so for those this measures the fit, not a prediction.`;
  document.getElementById("summary").dataset.total = String(doc.total);
  const trace = pass => ({ x: rows.filter(r => r.passed === pass).map(r => r.observed), y: rows.filter(r => r.passed === pass).map(r => r.predicted),
    text: rows.filter(r => r.passed === pass).map(r => `${r.id}: ${r.endpoint}`), mode: "markers", name: pass ? "pass" : "miss",
    marker: { color: pass ? "#2563eb" : "#b42318", size: 7 } });
  const all = rows.flatMap(r => [r.observed, r.predicted]), lo = Math.min(...all), hi = Math.max(...all);
  chart("scatter", [trace(true), trace(false), { x: [lo, hi], y: [lo, hi], mode: "lines", name: "identity", line: { color: "#999", dash: "dot" } }],
    "Observed vs predicted (all targets, their own units)", "observed", "predicted");
  document.getElementById("table").innerHTML = "<table><thead><tr><th>id</th><th>endpoint</th><th>observed</th><th>predicted</th><th>tolerance</th><th>pass</th><th>fitted</th><th>source</th></tr></thead><tbody>" +
    doc.targets.map(r => `<tr><td>${escapeHtml(r.id)}</td><td>${escapeHtml(r.endpoint)}</td><td>${r.observed}</td><td>${r.predicted === null ? "—" : (+r.predicted).toPrecision(3)}</td><td>${r.tolerance}</td><td>${r.passed ? "yes" : "<b>no</b>"}</td><td>${r.used_in_calibration ? "yes" : "no"}</td><td class="muted">${escapeHtml(r.source)}</td></tr>`).join("") +
    "</tbody></table>";
});
