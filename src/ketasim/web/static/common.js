// Shared by every page: navigation, the disclaimer, JSON requests, debounce, charts.
const PAGES = [["/", "Explore"], ["/how", "How it works"], ["/plan", "Plan a patient"], ["/trial", "Virtual trial"], ["/validation", "Validation"]];
const DISCLAIMER = "ketasim is a research and decision-support tool; it supports and does not replace clinical judgement.";

function frame() {
  const header = document.createElement("header");
  header.innerHTML = `<span class="brand">ketasim</span>` + PAGES.map(([href, name]) =>
    `<a href="${href}" class="${location.pathname === href ? "here" : ""}">${name}</a>`).join("");
  document.body.prepend(header);
  const note = document.createElement("p");
  note.className = "disclaimer";
  note.id = "disclaimer";
  note.textContent = DISCLAIMER;
  document.querySelector("main").prepend(note);
}

async function api(path, body, method) {
  const init = body === undefined ? { method: method || "GET" } : {
    method: method || "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = text; }
  if (!response.ok) {
    const detail = data && data.detail;
    const message = Array.isArray(detail) ? detail.map(d => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("\n") : String(detail || text);
    throw new Error(message);
  }
  return data;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

const LAYOUT = { margin: { l: 50, r: 10, t: 30, b: 40 }, legend: { orientation: "h", y: -0.25, font: { size: 10 } }, font: { size: 11 } };

function chart(id, traces, title, xtitle, ytitle, extra) {
  const el = document.getElementById(id);
  Plotly.react(el, traces, Object.assign({}, LAYOUT, { title: { text: title, font: { size: 13 } },
    xaxis: { title: { text: xtitle } }, yaxis: { title: { text: ytitle } } }, extra || {}), { displayModeBar: false, responsive: true });
  el.dataset.version = String(Number(el.dataset.version || 0) + 1);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

document.addEventListener("DOMContentLoaded", frame);
