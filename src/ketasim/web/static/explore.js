// The Explore page (templates/explore.html.j2).
"use strict";
const $ = id => document.getElementById(id);
const CONDITIONS = VOCABULARY().conditions;
function days(schedule) {
  if (schedule === "single") return [0];
  if (schedule === "six") return [0, 2, 4, 7, 9, 11];
  return [0, 3, 7, 10, 14, 17, 21, 24];
}
function doseControl() {
  const method = $("method").value, dose = $("dose");
  if (method === "intranasal") { dose.min = 28; dose.max = 84; dose.step = 28; if (+dose.value < 28 || +dose.value > 84 || +dose.value % 28) dose.value = 56; }
  else if (method === "oral") { dose.min = 25; dose.max = 300; dose.step = 25; if (+dose.value < 25 || +dose.value > 300) dose.value = 100; }
  else { dose.min = 0.1; dose.max = 1.0; dose.step = 0.05; if (+dose.value > 1.0) dose.value = 0.5; }
  $("dose-out").textContent = method === "iv" ? `${(+dose.value).toFixed(2)} mg/kg` : `${dose.value} mg`;
}
function scenario() {
  const method = $("method").value, condition = $("condition").value, d = days($("schedule").value);
  const follow = Math.max(+$("days").value, d[d.length - 1] + 1);
  let item;
  if (method === "iv") item = { kind: "ketamine", drug: "racemic_ketamine", route: "iv", dose_mg_per_kg: +$("dose").value, days: d };
  else if (method === "intranasal") item = { kind: "ketamine", drug: "esketamine", route: "intranasal", dose_mg: +$("dose").value, days: d };
  else item = { kind: "ketamine", drug: "racemic_ketamine", route: "oral", dose_mg: +$("dose").value, days: d };
  return { name: "explore", patient: { weight_kg: +$("weight").value, age_years: +$("age").value, sex: $("sex").value,
    condition, baseline: { [CONDITIONS[condition].default_scale]: CONDITIONS[condition].typical_baseline } }, treatment: [item], follow_up_days: follow, output_step_h: 0.25 };
}
async function run() {
  doseControl();
  ["weight", "age", "days"].forEach(k => $(k + "-out").textContent = $(k).value);
  let doc;
  try { doc = await api("/api/simulate", scenario()); $("error").textContent = ""; }
  catch (e) { $("error").textContent = e.message; return; }
  const t = doc.times_h.map(h => h / 24);
  const conc = Object.entries(doc.concentrations_ng_ml).map(([k, v]) => ({ x: t, y: v, name: k, mode: "lines" }));
  chart("conc", conc, "Plasma concentration", "day", "ng/mL");
  const s = doc.states;
  chart("receptor", [{ x: t, y: s.nmda_occupancy, name: "NMDA occupancy", mode: "lines" },
    { x: t, y: s.glutamate, name: "glutamate surge", mode: "lines" }], "Receptor and glutamate", "day", "fraction");
  chart("cascade", ["ampa", "bdnf", "mtorc1", "synaptic_proteins", "synapses"].map(k => ({ x: t, y: s[k], name: k, mode: "lines" })),
    "Cascade (1 = peak after one standard infusion)", "day", "index");
  chart("symptoms", Object.entries(doc.scales).map(([k, v]) => ({ x: t, y: v, name: k, mode: "lines" })), "Symptoms", "day", "score");
  chart("side", [{ x: t, y: doc.adverse.cadss, name: "CADSS (dissociation)", mode: "lines" }], "Dissociation", "day", "CADSS");
  chart("bp", [{ x: t, y: doc.adverse.sbp_mmhg, name: "systolic", mode: "lines" }, { x: t, y: doc.adverse.dbp_mmhg, name: "diastolic", mode: "lines" }],
    "Blood pressure", "day", "mmHg");
  const peak = Math.max(...Object.values(doc.concentrations_ng_ml)[0]);
  const scale = Object.keys(doc.scales)[0], scores = doc.scales[scale];
  $("stats").textContent = `Peak plasma ${peak.toFixed(1)} ng/mL · peak occupancy ${Math.max(...s.nmda_occupancy).toFixed(3)} · ${scale} ${scores[0].toFixed(1)} → ${scores[scores.length - 1].toFixed(1)}`;
  $("stats").dataset.peak = peak.toFixed(3);
}
const rerun = debounce(run, 250);
document.addEventListener("DOMContentLoaded", () => {
  $("controls").addEventListener("input", rerun);
  $("method").addEventListener("change", () => { doseControl(); rerun(); });
  run();
});
