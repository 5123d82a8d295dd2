// The Virtual trial page (templates/trial.html.j2).
"use strict";
const $ = id => document.getElementById(id);
let examples = {}, job = null, poll = null;
function fmt(e) { const f = x => x === null || x === undefined ? "—" : (+x).toPrecision(3); return `${f(e.value)} (${f(e.ci95[0])} to ${f(e.ci95[1])})`; }
function render(result) {
  const arms = Object.keys(result.arms);
  const names = Object.keys(result.arms[arms[0]].endpoints);
  let html = `<table><thead><tr><th>endpoint</th>${arms.map(a => `<th>${escapeHtml(a)} (n=${result.arms[a].n})</th>`).join("")}</tr></thead><tbody>`;
  html += names.map(n => `<tr><td>${escapeHtml(n)}</td>${arms.map(a => `<td>${fmt(result.arms[a].endpoints[n])}</td>`).join("")}</tr>`).join("");
  html += "</tbody></table>";
  const comps = Object.entries(result.comparisons || {});
  if (comps.length) html += `<table><thead><tr><th>vs ${escapeHtml(result.control)}</th><th>estimate (95% CI)</th><th>statistic</th><th>p</th></tr></thead><tbody>` +
    comps.map(([k, c]) => `<tr><td>${escapeHtml(k)}</td><td>${fmt({ value: c.difference, ci95: c.ci95 })}</td><td>${escapeHtml(c.statistic || "difference")}</td><td>${c.p_value === null ? "—" : c.p_value < 0.001 ? "<0.001" : c.p_value.toFixed(3)}</td></tr>`).join("") + "</tbody></table>";
  if ((result.not_yet_modelled || []).length) html += `<p class="note">Accepted but not yet modelled: ${escapeHtml(result.not_yet_modelled.join("; "))}</p>`;
  $("endpoints").innerHTML = html;
  $("endpoints").dataset.done = "1";
  chart("trajectories", arms.map(a => ({ x: result.arms[a].trajectory.days, y: result.arms[a].trajectory.mean, name: a, mode: "lines+markers" })),
    `Mean ${result.scale} by arm`, "day", result.scale);
  const km = [];
  arms.forEach(a => Object.entries(result.arms[a].endpoints).forEach(([n, e]) => {
    if (e.curve) km.push({ x: [0].concat(e.curve.days), y: [1].concat(e.curve.survival), name: `${a}: ${n}`, mode: "lines", line: { shape: "hv" } });
  }));
  if (km.length) chart("km", km, "Kaplan–Meier", "days", "fraction without the event");
  else Plotly.purge("km");
}
async function tick() {
  const state = await api(`/api/trials/${job}`);
  $("bar").style.width = `${Math.round(100 * state.progress)}%`;
  $("status").textContent = `${state.status} — ${Math.round(100 * state.progress)}%`;
  $("status").dataset.status = state.status;
  if (["done", "failed", "cancelled"].includes(state.status)) {
    clearInterval(poll); poll = null; $("run").disabled = false; $("cancel").disabled = true;
    if (state.status === "done") { render(state.result); $("parquet").href = state.parquet; $("parquet").style.display = "inline"; }
    else $("error").textContent = state.error || state.status;
  }
}
async function run() {
  $("error").textContent = ""; $("parquet").style.display = "none";
  let design;
  try { design = JSON.parse($("design").value); } catch (e) { $("error").textContent = "The design is not valid JSON: " + e.message; return; }
  design.n_per_arm = +$("n").value;
  try { job = (await api("/api/trials", design)).job_id; } catch (e) { $("error").textContent = e.message; return; }
  $("run").disabled = true; $("cancel").disabled = false; $("bar").style.width = "0";
  poll = setInterval(() => tick().catch(e => { $("error").textContent = e.message; }), 400);
}
document.addEventListener("DOMContentLoaded", async () => {
  try { examples = await api("/api/trials-examples"); }
  catch (e) { $("error").textContent = "The example designs could not be loaded: " + e.message; return; }
  $("example").innerHTML = Object.keys(examples).map(k => `<option value="${k}">${escapeHtml(examples[k].name)}</option>`).join("");
  const load = () => { const d = examples[$("example").value]; $("design").value = JSON.stringify(d, null, 1); $("n").value = Math.min(d.n_per_arm, 60); };
  $("example").addEventListener("change", load); load();
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", () => api(`/api/trials/${job}`, undefined, "DELETE"));
});
