// The Plan a patient page (templates/plan.html.j2).
"use strict";
const $ = id => document.getElementById(id);
const CONDITIONS = VOCABULARY().conditions;
const SCALES = Object.fromEntries(Object.entries(CONDITIONS).map(([name, c]) => [name, c.scales]));
let observed = [];
function scales() {
  const keep = $("scale").value;
  $("scale").innerHTML = SCALES[$("diagnosis").value].map(s => `<option>${s}</option>`).join("");
  if (SCALES[$("diagnosis").value].includes(keep)) $("scale").value = keep;
}
function patient() {
  const scale = $("scale").value;
  const p = { name: "web patient", age_years: +$("age_years").value, sex: $("sex").value, weight_kg: +$("weight_kg").value,
    height_cm: +$("height_cm").value, failed_antidepressant_trials: +$("failed").value,
    diagnoses: [$("diagnosis").value].concat([...$("other-diagnoses").selectedOptions].map(o => o.value)
      .filter(d => d !== $("diagnosis").value).slice(0, 2)),
    history: [...$("history").selectedOptions].map(o => o.value),
    concomitant_medications: [...$("medications").selectedOptions].map(o => o.value),
    pregnant: $("pregnant").checked, weight_basis: $("weight_basis").value,
    vitals: { systolic_mmhg: +$("sbp").value, diastolic_mmhg: +$("dbp").value, heart_rate_bpm: +$("hr").value, spo2_pct: +$("spo2").value },
    baseline_scores: { [scale]: +$("baseline").value }, observed_scores: observed.map(o => ({ day: o.day, scale, score: o.score })) };
  const method = $("method").value;
  if (method === "intranasal") p.treatment = { drug: "esketamine", route: "intranasal" };
  else if (method) p.treatment = { drug: "racemic_ketamine", route: method };
  if ($("oral_antidepressant").value) p.oral_antidepressant = $("oral_antidepressant").value;
  p.planning = { keep_response_probability: +$("keep").value };
  return p;
}
function table(head, rows) {
  return `<table><thead><tr>${head.map(h => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map(r => `<tr>${r.map(c => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("") + "</tbody></table>";
}
async function submit() {
  $("submit").disabled = true; $("error").textContent = "";
  let doc;
  try { doc = await api("/api/plan", patient()); }
  catch (e) { $("error").textContent = e.message; $("submit").disabled = false; return; }
  $("submit").disabled = false;
  $("decision").textContent = "Decision: " + doc.decision.replace("_", " ");
  $("decision").dataset.decision = doc.decision;
  $("findings").innerHTML = doc.findings.length ? doc.findings.map(f =>
    `<p><span class="sev-${f.severity}">${f.severity}</span> — ${escapeHtml(f.message)}<br><span class="muted">${escapeHtml(f.source)}</span></p>`).join("")
    : "<p class='muted'>No finding.</p>";
  const rv = doc.course_review;
  $("review-status").textContent = rv ? rv.status : "—";
  $("review-status").dataset.status = rv ? rv.status : "";
  $("review").innerHTML = rv ? rv.reasons.map(t => `<p>${escapeHtml(t)}</p>`).join("") +
    `<p class="muted">${escapeHtml(rv.sources.join("; "))}</p>` : "<p class='muted'>Nothing is planned.</p>";
  const r = doc.regimen;
  $("method-title").textContent = `Sessions: ${r.drug} ${r.route}` + (r.off_label ? " (off-label)" : "");
  const preds = Object.fromEntries((doc.session_predictions || []).map(p => [p.session, p]));
  $("sessions").innerHTML = r.sessions.length ? table(["#", "day", "phase", "dose (mg)", "min", "CADSS peak (10–90%)", "SBP peak", "discharge (min)"],
    r.sessions.map((s, i) => { const p = preds[i + 1] || {};
      return [i + 1, s.day, s.label || s.phase, s.dose_mg, s.duration_min ?? "—",
        p.cadss_peak ? `${p.cadss_peak.median.toFixed(1)} (${p.cadss_peak.p10.toFixed(1)}–${p.cadss_peak.p90.toFixed(1)})` : "",
        p.sbp_peak_mmhg ? `${p.sbp_peak_mmhg.median.toFixed(0)} (${p.sbp_peak_mmhg.p10.toFixed(0)}–${p.sbp_peak_mmhg.p90.toFixed(0)})` : "",
        p.earliest_discharge_min ?? ""]; })) + `<p class="muted">${escapeHtml((r.reasons || []).concat(r.notes || []).join("; "))}</p>`
    : "<p class='muted'>No session is planned.</p>";
  const m = doc.maintenance;
  $("maintenance").innerHTML = m ? `<p>${escapeHtml(m.reason)}</p>` + (m.options.length ? table(["every (days)", "sessions a month", "stay in response", "ratings in response"],
    m.options.map(o => [o.interval_days + (o.interval_days === m.chosen_interval_days ? " (chosen)" : ""), o.sessions_per_month.toFixed(1),
      o.stay_in_response_probability === null ? "—" : `${(100 * o.stay_in_response_probability).toFixed(0)}%`,
      `${(100 * o.ratings_in_response_share).toFixed(0)}%`])) : "") : "<p class='muted'>No maintenance planned.</p>";
  $("monitoring").innerHTML = table(["t (min)", "action", "P(hold)"], doc.monitoring.filter(m => m.session === 1)
    .map(m => [m.t_min, m.action, m.hold_probability === null ? "" : `${(100 * m.hold_probability).toFixed(1)}%`]));
  $("measurement").innerHTML = table(["instrument", "phase", "when", "feeds"], (doc.measurement || []).map(x => [x.instrument, x.phase, x.when, x.feeds]));
  const f = doc.forecast;
  if (f) {
    const traces = [];
    if (f.prior) traces.push({ x: f.days.concat([...f.days].reverse()), y: f.prior.p90.concat([...f.prior.p10].reverse()), fill: "toself",
      fillcolor: "rgba(150,150,150,0.25)", line: { width: 0 }, name: "10–90% before observed scores" });
    traces.push({ x: f.days.concat([...f.days].reverse()), y: f.p90.concat([...f.p10].reverse()), fill: "toself",
      fillcolor: "rgba(37,99,235,0.25)", line: { width: 0 }, name: "10–90% band" });
    traces.push({ x: f.days, y: f.median, mode: "lines", name: "median", line: { color: "#2563eb" } });
    if (observed.length) traces.push({ x: observed.map(o => o.day), y: observed.map(o => o.score), mode: "markers", name: "observed", marker: { color: "#111", size: 8 } });
    chart("forecast", traces, `Forecast (${f.scale})`, "day (0 = first session)", f.scale);
    $("forecast-stats").textContent = `Response after induction: ${(100 * f.response_probability).toFixed(0)}% · median days to loss of response without maintenance: ${f.response_probability < 0.05 ? "not reported (response unlikely)" : (f.median_days_to_relapse ?? "beyond follow-up")} · maintenance simulated: ${f.suggested_maintenance_interval_days ? "every " + f.suggested_maintenance_interval_days + " days" : "none"} · band width ${f.band_width_mean.toFixed(1)} points` + (f.prior ? ` (was ${f.prior_band_width_mean.toFixed(1)})` : "");
    $("forecast-stats").dataset.band = String(f.band_width_mean);
  } else {
    Plotly.purge("forecast"); $("forecast-stats").textContent = "No forecast: nothing is planned.";
  }
}
function listObserved() {
  $("observed").innerHTML = observed.map((o, i) =>
    `<span class="obs">day ${escapeHtml(o.day)}: ${escapeHtml(o.score)} <button type="button" class="secondary small" data-remove="${i}" aria-label="remove the score of day ${escapeHtml(o.day)}">×</button></span>`).join(" ");
}
async function report() {
  const response = await fetch("/api/plan/report", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(patient()) });
  if (!response.ok) { $("error").textContent = await response.text(); return; }
  const blob = await response.blob(), a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = "ketasim-plan.html"; a.click();
}
document.addEventListener("DOMContentLoaded", () => {
  scales();
  $("diagnosis").addEventListener("change", scales);
  $("submit").addEventListener("click", submit);
  $("report").addEventListener("click", report);
  $("add-obs").addEventListener("click", () => {
    observed.push({ day: +$("obs-day").value, score: +$("obs-score").value });
    listObserved();
    submit();
  });
  $("observed").addEventListener("click", e => {  // remove one observed score (a wrong entry no longer blocks every plan)
    const i = e.target.dataset && e.target.dataset.remove;
    if (i === undefined) return;
    observed.splice(+i, 1);
    listObserved();
    submit();
  });
});
