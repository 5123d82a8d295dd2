// The Validation page (templates/validation.html.j2).
"use strict";
async function report() {
  for (;;) {  // the first request starts the computation; poll until it is done
    const response = await fetch("/api/validation");
    let doc;
    try { doc = await response.json(); } catch (e) { throw new Error(`the server answered ${response.status}`); }
    if (response.status !== 202) {
      if (!response.ok) throw new Error(JSON.stringify(doc.detail));
      return doc;
    }
    document.getElementById("summary").textContent = `Computing the validation… ${Math.round(100 * doc.progress)}%`;
    await new Promise(r => setTimeout(r, 1000 * Math.min(10, +(response.headers.get("Retry-After") || 2))));
  }
}
const pct = (a, b) => (100 * a / Math.max(b, 1)).toFixed(0);
function headline(doc) {
  const cv = doc.cross_validation;
  const lines = cv
    ? [`Cross-validated (the prediction test): ${cv.passed} of ${cv.total} held-out targets within tolerance (${pct(cv.passed, cv.total)}%), ` +
       `${cv.folds}-fold by study over ${cv.sources} studies — each fold predicted by parameters fitted without it.`]
    : [`No cross-validation: ${doc.cross_validation_note}.`];
  lines.push(`In-sample (the fit, not a prediction): ${doc.in_sample.passed} of ${doc.in_sample.total} (${pct(doc.in_sample.passed, doc.in_sample.total)}%).`);
  if (doc.pk) lines.push(`PK checks: ${doc.pk.passed} of ${doc.pk.total}.`);
  return lines;
}
document.addEventListener("DOMContentLoaded", async () => {
  let doc;
  try { doc = await report(); }
  catch (e) {
    const summary = document.getElementById("summary");
    summary.textContent = "The validation could not be computed: " + e.message;
    summary.classList.add("error");
    return;
  }
  const cv = doc.cross_validation;
  const held = new Map((cv ? cv.targets : []).map(r => [r.id, r]));
  const summary = document.getElementById("summary");
  summary.innerHTML = headline(doc).map(escapeHtml).join("<br>");
  summary.dataset.total = String(doc.total);
  summary.dataset.cvTotal = String(cv ? cv.total : 0);
  // the scatter shows out-of-sample predictions where they exist (else the in-sample value)
  const rows = doc.targets.map(r => held.get(r.id) || r).filter(r => r.predicted !== null);
  const trace = pass => ({ x: rows.filter(r => r.passed === pass).map(r => r.observed), y: rows.filter(r => r.passed === pass).map(r => r.predicted),
    text: rows.filter(r => r.passed === pass).map(r => `${r.id}: ${r.endpoint}`), mode: "markers", name: pass ? "pass" : "miss",
    marker: { color: pass ? "#2563eb" : "#b42318", size: 7 } });
  const all = rows.flatMap(r => [r.observed, r.predicted]), lo = Math.min(...all), hi = Math.max(...all);
  chart("scatter", [trace(true), trace(false), { x: [lo, hi], y: [lo, hi], mode: "lines", name: "identity", line: { color: "#999", dash: "dot" } }],
    cv ? "Observed vs predicted out of sample (each target by the fold fitted without it)" : "Observed vs predicted (in sample)", "observed", "predicted");
  const fmt = v => v === null || v === undefined ? "—" : (+v).toPrecision(3);
  document.getElementById("table").innerHTML = "<table><thead><tr><th>id</th><th>endpoint</th><th>observed</th><th>cross-validated</th><th>pass (cv)</th><th>in-sample</th><th>pass</th><th>tolerance</th><th>source</th></tr></thead><tbody>" +
    doc.targets.map(r => { const h = held.get(r.id); return `<tr><td>${escapeHtml(r.id)}</td><td>${escapeHtml(r.endpoint)}</td><td>${{ upper: "≤ ", lower: "≥ " }[r.bound] || ""}${r.observed}</td>` +
      `<td>${h ? fmt(h.predicted) + ` (fold ${h.fold})` : "—"}</td><td>${h ? (h.passed ? "yes" : "<b>no</b>") : "—"}</td>` +
      `<td>${fmt(r.predicted)}</td><td>${r.passed ? "yes" : "<b>no</b>"}</td><td>${r.tolerance}</td><td class="muted">${escapeHtml(r.source)}</td></tr>`; }).join("") +
    "</tbody></table>";
});
