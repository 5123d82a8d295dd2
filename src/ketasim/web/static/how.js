// The How it works page (templates/how.html.j2).
"use strict";
const STEPS = [
  [0.0, "The drug enters. Over 40 minutes the infusion raises ketamine in the blood; the liver turns part of it into norketamine.",
   "Pharmacokinetics: Clements & Nimmo 1981 (Br J Anaesth 53:27); dose 0.5 mg/kg over 40 min (Sanacora 2017 consensus)."],
  [0.08, "Receptors block. Ketamine reaches the brain within minutes and plugs the channel of NMDA receptors.",
   "Binding constants: Ebert et al. 1997 (Eur J Pharmacol 333:99); brain equilibration half-life 6 min (Olofsen 2012)."],
  [0.3, "Glutamate surges. Blocking NMDA receptors on inhibitory neurons releases the brake on others: glutamate rises by about 38%, peaking some 26 minutes into the infusion.",
   "Milak et al. 2016 (Mol Psychiatry 21:320), magnetic resonance spectroscopy in depressed patients."],
  [0.7, "Dissociation comes and goes. The strange, dreamlike feeling follows the rise of receptor block more than its level: it peaks in the second half of the infusion and fades within about half an hour of its end, while the drug is still in the brain.",
   "CADSS 18.8 at the end of a 40-min infusion, 0.8 twenty minutes later (pooled bipolar trials, CNS Summit abstract T39); Spravato label (peak ~40 min, resolved by 1.5 h)."],
  [1.5, "AMPA receptors and BDNF. The glutamate burst drives AMPA receptors, and neurons release the growth factor BDNF within hours.",
   "Maeng et al. 2008 (Biol Psychiatry 63:349); Autry et al. 2011 (Nature 475:91); human plasma BDNF rises by 4 h (Haile 2014)."],
  [4, "mTOR switches on. BDNF signalling turns on mTORC1, the switch for making new synaptic proteins.",
   "Li et al. 2010 (Science 329:959): mTOR activation and synaptic proteins after ketamine."],
  [12, "Mood lifts. Within hours, and most clearly by the next day, depressive symptoms ease — where standard antidepressants take weeks.",
   "Kishimoto et al. 2016 meta-analysis: peak effect at day 1 (g = −1.00)."],
  [48, "Synapses grow. Over the next days new dendritic spines form and brain networks rewire; they fade again within about ten days. A series of sessions builds a benefit that one session does not: in the model, a session two or three days after the last starts from the synapses that one left.",
   "Moda-Sava et al. 2019 (Science 364:eaat8078); Evans et al. 2018 (Biol Psychiatry 84:582): network change normalised at ~2 days, reversed by ~10; Murrough 2013, Shiroma 2014 (series)."],
  [120, "And then it fades. Without further sessions the benefit of one infusion wanes over one to two weeks — the reason for a series, then tapering and maintenance.",
   "Coyle & Laws 2015; Kryst 2020: single-infusion effect significant to about day 7."],
];
let doc = null, frameIndex = 0, timer = null;
const $ = id => document.getElementById(id);
function norm(v) { const m = Math.max(...v.map(Math.abs)) || 1; return v.map(x => x / m); }
function times() { const out = []; for (let t = 0; t <= 168; t += t < 2 ? 1 / 12 : t < 24 ? 0.5 : 3) out.push(t); return out; }
const T = times();
function draw(tNow) {
  const h = doc.times_h, s = doc.states, scale = Object.keys(doc.scales)[0], score = doc.scales[scale];
  const lift = score.map(v => (score[0] - v) / score[0]);
  const traces = [
    ["plasma ketamine", norm(doc.concentrations_ng_ml.ketamine)], ["NMDA block", norm(s.nmda_occupancy)],
    ["glutamate surge", norm(s.glutamate)], ["AMPA", norm(s.ampa)], ["BDNF", norm(s.bdnf)], ["mTORC1", norm(s.mtorc1)],
    ["synapses", norm(s.synapses)], ["mood lift (" + scale + ")", norm(lift)], ["dissociation (CADSS)", norm(doc.adverse.cadss)],
  ].map(([name, y]) => ({ x: h, y, name, mode: "lines" }));
  chart("walk", traces, "Each curve scaled to its own peak", "hours after the start of the infusion (log scale)", "fraction of peak",
    { xaxis: { type: "log", range: [Math.log10(0.05), Math.log10(168)], title: { text: "hours after the start of the infusion (log scale)" } },
      shapes: [{ type: "line", x0: Math.max(tNow, 0.05), x1: Math.max(tNow, 0.05), y0: 0, y1: 1.05, line: { color: "#111", width: 2, dash: "dot" } }] });
}
function show(i) {
  frameIndex = i;
  const t = T[i];
  const step = STEPS.filter(s => s[0] <= t).pop();
  $("caption").innerHTML = `${escapeHtml(step[1])}<span class="source">Source: ${escapeHtml(step[2])}</span>`;
  $("caption").dataset.step = String(STEPS.indexOf(step));
  $("clock").textContent = t < 2 ? `${Math.round(t * 60)} min` : t < 48 ? `${t.toFixed(1)} h` : `day ${(t / 24).toFixed(1)}`;
  draw(t);
}
const HOLD_MS = 4000;  // each caption stays at least this long while playing
let heldStep = -1, holdUntil = 0;
function stepStart(k) { return T.findIndex(t => t >= STEPS[k][0]); }
function currentStep() { return +($("caption").dataset.step || 0); }
function stop() { if (timer) { clearInterval(timer); timer = null; } $("play").textContent = "▶ Play"; }
function play() {
  if (timer) { stop(); return; }
  $("play").textContent = "❚❚ Pause";
  heldStep = currentStep(); holdUntil = Date.now() + HOLD_MS;
  timer = setInterval(() => {
    if (frameIndex >= T.length - 1) { stop(); return; }
    const next = STEPS.filter(s => s[0] <= T[frameIndex + 1]).length - 1;
    if (next !== heldStep) {  // a new caption: show it, then hold it before moving on
      if (Date.now() < holdUntil) return;
      heldStep = next; holdUntil = Date.now() + HOLD_MS;
    }
    show(frameIndex + 1);
  }, 60);
}
function step(delta) {
  stop();
  const k = Math.min(STEPS.length - 1, Math.max(0, currentStep() + delta));
  show(stepStart(k));
}
document.addEventListener("DOMContentLoaded", async () => {
  try {
    doc = await api("/api/simulate", { name: "one infusion", treatment: [{ kind: "ketamine", dose_mg_per_kg: 0.5, days: [0], hour_of_day: 0 }],
      follow_up_days: 7, output_step_h: 1 / 12 });
  } catch (e) {
    $("caption").textContent = "The simulation could not be loaded: " + e.message;
    $("caption").classList.add("error");
    return;
  }
  show(0);  // the first caption from the start
  $("play").addEventListener("click", play);
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  $("reset").addEventListener("click", () => { stop(); show(0); });
});
