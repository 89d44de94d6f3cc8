/** The dashboard's two pages, self-contained: inline CSS, inline script (nonce), SVG charts. */

const STYLE = `
body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:18px;margin:0}
main{padding:16px 20px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(460px,1fr))}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px;overflow:auto}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eef0f3;white-space:nowrap}
td.n,th.n{text-align:right}
.bad{color:#b3261e}.ok{color:#1e7b34}.muted{color:#7a8294}
section.wide{grid-column:1/-1}
form.login{max-width:360px;margin:80px auto;background:#fff;padding:24px;border:1px solid #dde1e7;border-radius:6px}
form.login input{width:100%;box-sizing:border-box;padding:8px;margin:8px 0}
button{padding:6px 14px}
svg text{font-size:10px;fill:#7a8294}
`;

const escape = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/** The login form; `error` is shown above it after a wrong token. */
export function loginPage(error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stratus — sign in</title>
<style>${STYLE}</style></head><body>
<form class="login" method="post" action="/dashboard/login">
<h1>Stratus dashboard</h1>
${error === undefined ? "" : `<p class="bad" id="login-error">${escape(error)}</p>`}
<label for="token">Cluster token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button id="sign-in" type="submit">Sign in</button>
</form></body></html>`;
}

/** The dashboard; its script polls `/dashboard/api/state` every `pollMs`. */
export function dashboardPage(nonce: string, pollMs: number): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stratus dashboard</title>
<style>${STYLE}</style></head><body>
<header><h1>Stratus</h1><span><span id="updated" class="muted"></span>
<form method="post" action="/dashboard/logout" style="display:inline"><button>Sign out</button></form></span></header>
<main>
<section><h2>Calls per second</h2><svg id="chart-rate" width="440" height="150"></svg></section>
<section><h2>Latency (ms, p50 and p99)</h2><svg id="chart-latency" width="440" height="150"></svg></section>
<section class="wide"><h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th>address</th><th class="n">executors</th><th class="n">busy</th><th class="n">queued</th><th class="n">utilisation</th><th class="n">cached keys</th><th class="n">cache bytes</th></tr></thead><tbody></tbody></table></section>
<section><h2>Functions</h2><table id="functions"><thead><tr><th>function</th><th class="n">calls</th><th class="n">errors</th><th class="n">calls/s</th><th class="n">p50 ms</th><th class="n">p99 ms</th><th class="n">in DAG runs</th><th>nodes</th><th class="n">executors</th></tr></thead><tbody></tbody></table>
<h2 style="margin-top:12px">DAGs</h2><table id="dags"><thead><tr><th>DAG</th><th class="n">runs</th><th class="n">errors</th><th class="n">runs/s</th><th class="n">p50 ms</th></tr></thead><tbody></tbody></table></section>
<section><h2>Recent runs</h2><table id="runs"><thead><tr><th>when</th><th>name</th><th>kind</th><th class="n">ms</th><th>outcome</th><th>placement</th></tr></thead><tbody></tbody></table></section>
<section><h2>Errors</h2><table id="errors"><thead><tr><th>when</th><th>name</th><th>code</th><th>message</th></tr></thead><tbody></tbody></table></section>
</main>
<script nonce="${nonce}">${SCRIPT.replace("POLL_MS", String(pollMs))}</script>
</body></html>`;
}

// Plain browser JavaScript (no build step). Every user-supplied string goes in through
// textContent, never innerHTML.
const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
const time = (ms) => new Date(ms).toLocaleTimeString();
function row(tbody, cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const [text, klass] of cells) {
    const td = document.createElement("td");
    td.textContent = String(text);
    if (klass) td.className = klass;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}
function fill(id, rows) {
  const tbody = $(id).querySelector("tbody");
  tbody.replaceChildren();
  for (const r of rows) row(tbody, r.cells, r.cls);
  if (rows.length === 0) row(tbody, [["none yet", "muted"]]);
}
const NS = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function chart(id, series, lines) {
  const svg = $(id);
  const W = 440, H = 150, L = 40, B = 18;
  svg.replaceChildren();
  let max = 0;
  for (const l of lines) for (const p of series) max = Math.max(max, p[l.key] ?? 0);
  max = max > 0 ? max * 1.1 : 1;
  const x = (i) => L + (i * (W - L - 4)) / Math.max(1, series.length - 1);
  const y = (v) => H - B - (v / max) * (H - B - 6);
  svg.appendChild(el("line", { x1: L, y1: H - B, x2: W, y2: H - B, stroke: "#ccd" }));
  svg.appendChild(el("text", { x: 2, y: 12 }, fmt(max, max < 10 ? 2 : 0)));
  svg.appendChild(el("text", { x: 2, y: H - B }, "0"));
  svg.appendChild(el("text", { x: L, y: H - 4 }, "-" + series.length + " s"));
  svg.appendChild(el("text", { x: W - 30, y: H - 4 }, "now"));
  for (const l of lines) {
    const pts = series.map((p, i) => (p[l.key] === null ? null : x(i) + "," + y(p[l.key]))).filter(Boolean);
    svg.appendChild(el("polyline", { points: pts.join(" "), fill: "none", stroke: l.color, "stroke-width": 1.6, "data-series": l.key }));
  }
}
async function tick() {
  let s;
  try {
    const r = await fetch("/dashboard/api/state", { credentials: "same-origin" });
    if (r.status === 401) { location.href = "/dashboard"; return; }
    s = await r.json();
  } catch (e) {
    $("updated").textContent = "unreachable: " + e.message;
    return;
  }
  $("updated").textContent = "updated " + time(s.at);
  chart("chart-rate", s.series, [{ key: "calls", color: "#2f6fde" }, { key: "errors", color: "#b3261e" }]);
  chart("chart-latency", s.series, [{ key: "p50Ms", color: "#2f6fde" }, { key: "p99Ms", color: "#e08a00" }]);
  fill("nodes", s.nodes.map((n) => ({ cells: [[n.id], [n.addr], [n.executors, "n"], [n.busy, "n"], [n.queued, "n"], [fmt(n.utilisation * 100, 0) + "%", "n"], [n.cacheKeys, "n"], [n.cacheBytes, "n"]] })));
  fill("functions", s.functions.map((f) => ({ cls: "fn-" + f.name, cells: [[f.name], [f.calls, "n calls"], [f.errors, f.errors > 0 ? "n bad" : "n"], [fmt(f.callsPerSec, 2), "n"], [fmt(f.p50Ms, 2), "n"], [fmt(f.p99Ms, 2), "n"], [f.inDags, "n"], [f.nodes.join(", ")], [f.executors, "n"]] })));
  fill("dags", s.dags.map((d) => ({ cells: [[d.name], [d.calls, "n"], [d.errors, "n"], [fmt(d.callsPerSec, 2), "n"], [fmt(d.p50Ms, 2), "n"]] })));
  fill("runs", s.runs.map((r) => ({ cells: [[time(r.startedAt)], [r.name], [r.kind], [fmt(r.ms, 2), "n"], [r.ok ? "ok" : r.error.code, r.ok ? "ok" : "bad"], [Object.entries(r.placed).map(([f, n]) => f + "→" + n).join(", "), "placement"]] })));
  fill("errors", s.errors.map((r) => ({ cells: [[time(r.startedAt)], [r.name], [r.error.code, "bad"], [r.error.message]] })));
}
tick();
setInterval(tick, POLL_MS);
`;
