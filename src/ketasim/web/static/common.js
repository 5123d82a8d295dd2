// Shared by every page: JSON requests (waiting when the server is busy), debounce, charts, escaping.
// The vocabulary (conditions, scales) the server rendered into the page: no names are written here.
const VOCABULARY = () => JSON.parse(document.getElementById("vocabulary").textContent);

async function api(path, body, method) {
  const init = body === undefined ? { method: method || "GET" } : {
    method: method || "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let response = await fetch(path, init);
  for (let attempt = 0; response.status === 503 && attempt < 20; attempt++) {  // busy: wait as the server asks
    const wait = Math.min(30, +(response.headers.get("Retry-After") || 2));
    await new Promise(r => setTimeout(r, 1000 * wait));
    response = await fetch(path, init);
  }
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

// Legends sit below the x-axis title (automargin makes room for both, so neither is clipped).
const LAYOUT = { margin: { l: 55, r: 15, t: 35, b: 30 }, legend: { orientation: "h", x: 0, y: -0.32, yanchor: "top", yref: "paper", font: { size: 10 } }, font: { size: 11 } };

function chart(id, traces, title, xtitle, ytitle, extra) {
  const el = document.getElementById(id);
  const layout = Object.assign({}, LAYOUT, { title: { text: title, font: { size: 13 } },
    xaxis: { title: { text: xtitle, standoff: 6 }, automargin: true }, yaxis: { title: { text: ytitle }, automargin: true } }, extra || {});
  for (const axis of ["xaxis", "yaxis"]) layout[axis] = Object.assign({ automargin: true }, layout[axis]);
  Plotly.react(el, traces, layout, { displayModeBar: false, responsive: true });
  el.dataset.version = String(Number(el.dataset.version || 0) + 1);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}


// Forms here are controls for scripts, never sent to the server (no inline handlers: the CSP forbids them).
document.addEventListener("DOMContentLoaded", () =>
  document.querySelectorAll("form").forEach(f => f.addEventListener("submit", e => e.preventDefault())));
