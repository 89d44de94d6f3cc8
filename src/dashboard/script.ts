/**
 * The dashboard page's script: plain browser JavaScript (no build step), inlined with a nonce.
 * Every string that came from users or the cluster goes in through textContent or an SVG text
 * node, never innerHTML.
 */
export const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
const time = (ms) => new Date(ms).toLocaleTimeString();
const stamp = (ms) => (ms === null || ms === undefined ? "–" : new Date(ms).toLocaleString());
const api = async (path) => {
  const r = await fetch("/dashboard/api/" + path, { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/dashboard"; throw new Error("signed out"); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.code + ": " + body.error.message : String(r.status));
  return body;
};
function cell(text, klass) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (klass) td.className = klass;
  // A cell cut to one line keeps its whole text as a tooltip.
  if (klass && klass.split(" ").includes("t")) td.title = String(text);
  return td;
}
function fill(id, rows, keep) {
  const tbody = $(id).querySelector("tbody");
  if (keep) { for (const tr of [...tbody.children]) if (tr.querySelector(".muted")) tr.remove(); }
  else tbody.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    if (r.cls) tr.className = r.cls;
    if (r.click) tr.addEventListener("click", r.click);
    if (r.data) for (const [k, v] of Object.entries(r.data)) tr.dataset[k] = v;
    for (const [text, klass] of r.cells) tr.appendChild(cell(text, klass));
    tbody.appendChild(tr);
  }
  if (tbody.children.length === 0) {
    const tr = document.createElement("tr");
    tr.appendChild(cell("none yet", "muted"));
    tbody.appendChild(tr);
  }
}
const NS = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function legend(id, lines) {
  const box = $(id);
  box.replaceChildren();
  for (const l of lines) {
    const span = document.createElement("span");
    span.className = "key-" + l.key;
    const sw = document.createElement("i");
    sw.style.background = l.color;
    span.append(sw, l.label);
    box.appendChild(span);
  }
}
/** Round axis steps: 1, 2 or 5 times a power of ten. */
function niceStep(max, ticks) {
  const raw = max / ticks;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
/**
 * A line chart over the per-second series: y axis with round ticks and grid lines, x axis in
 * seconds before now, a legend, and a gap wherever a series has no sample (an idle second's
 * latency is unknown, not zero, so no line is drawn across it).
 */
function chart(id, series, lines, unit) {
  const svg = $(id);
  const W = 560, H = 170, L = 44, R = 8, T = 20, B = 22;
  svg.replaceChildren();
  let max = 0;
  for (const l of lines) for (const p of series) max = Math.max(max, p[l.key] ?? 0);
  const step = niceStep(max > 0 ? max : 1, 4);
  const top = Math.max(step, Math.ceil((max > 0 ? max : 1) / step) * step);
  const n = series.length;
  const x = (i) => L + (i * (W - L - R)) / Math.max(1, n - 1);
  const y = (v) => H - B - (v / top) * (H - B - T);
  const d = step < 1 ? (step < 0.1 ? 2 : 1) : 0;
  for (let v = 0; v <= top + step / 2; v += step) {
    svg.appendChild(el("line", { x1: L, y1: y(v), x2: W - R, y2: y(v), stroke: v === 0 ? "#aab" : "#eceef2", class: "grid" }));
    svg.appendChild(el("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end", class: "ytick" }, v.toFixed(d)));
  }
  svg.appendChild(el("text", { x: L, y: 10, class: "unit" }, unit));
  for (let s = 0; s < n; s += 30) {
    const i = n - 1 - s;
    svg.appendChild(el("line", { x1: x(i), y1: H - B, x2: x(i), y2: H - B + 4, stroke: "#aab" }));
    svg.appendChild(el("text", { x: x(i), y: H - 6, "text-anchor": s === 0 ? "end" : "middle", class: "xtick" }, s === 0 ? "now" : "-" + s + "s"));
  }
  for (const l of lines) {
    let dpath = "";
    let open = false;
    let segments = 0;
    const alone = [];
    series.forEach((p, i) => {
      const v = p[l.key];
      if (v === null || v === undefined) { open = false; return; }
      dpath += (open ? " L" : " M") + x(i).toFixed(1) + "," + y(v).toFixed(1);
      if (!open) segments++;
      // A second with samples between two idle ones is a point, not a line: mark it.
      const next = series[i + 1];
      if (!open && (next === undefined || next[l.key] === null || next[l.key] === undefined)) alone.push([x(i), y(v)]);
      open = true;
    });
    svg.appendChild(el("path", { d: dpath.trim(), fill: "none", stroke: l.color, "stroke-width": 1.6, "data-series": l.key, "data-segments": segments }));
    for (const [cx, cy] of alone) svg.appendChild(el("circle", { cx, cy, r: 2.5, fill: l.color }));
  }
}
const PALETTE = ["#2f6fde", "#e08a00", "#1e7b34", "#8e44ad", "#b3261e", "#16a2b8", "#6b4f2a"];
/** A run's functions as bars on a time line, one row per invocation, coloured by node. */
function waterfall(run) {
  const svg = $("waterfall");
  svg.replaceChildren();
  const ts = (run.timings || []).slice().sort((a, b) => a.s - b.s);
  const nodes = [...new Set(ts.map((t) => t.node))];
  legend("legend-waterfall", nodes.map((n, i) => ({ key: "node", label: n, color: PALETTE[i % PALETTE.length] })));
  const W = 1180, L = 220, R = 10, ROW = 20, T = 4, B = 20;
  const H = T + Math.max(1, ts.length) * ROW + B;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  if (ts.length === 0) {
    svg.appendChild(el("text", { x: 4, y: 16 }, "no per-function timings came back with this run"));
    return;
  }
  const t0 = Math.min(run.startedAt, ...ts.map((t) => t.s));
  const t1 = Math.max(run.startedAt + run.ms, ...ts.map((t) => t.e));
  const span = Math.max(1, t1 - t0);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const step = niceStep(span, 6);
  for (let v = 0; v <= span; v += step) {
    svg.appendChild(el("line", { x1: x(t0 + v), y1: T, x2: x(t0 + v), y2: H - B, stroke: "#eceef2" }));
    svg.appendChild(el("text", { x: x(t0 + v), y: H - 6, "text-anchor": "middle" }, v + " ms"));
  }
  ts.forEach((t, i) => {
    const yy = T + i * ROW;
    const color = PALETTE[nodes.indexOf(t.node) % PALETTE.length];
    svg.appendChild(el("text", { x: 4, y: yy + 14, class: "wf-label" }, t.fn + " @ " + t.node));
    const bar = el("rect", { x: x(t.s), y: yy + 3, width: Math.max(2, x(t.e) - x(t.s)), height: ROW - 6, fill: t.ok ? color : "#b3261e", rx: 2, class: "wf-bar", "data-fn": t.fn, "data-node": t.node });
    bar.appendChild(el("title", {}, t.fn + " on " + t.node + ": " + (t.e - t.s) + " ms" + (t.ok ? "" : " (failed)")));
    svg.appendChild(bar);
  });
}
let lastState = null;
let picked = null;
async function pick(run) {
  picked = run.run;
  for (const tr of document.querySelectorAll("#runs tr, #errors tr")) tr.classList.toggle("sel", tr.dataset.run === run.run);
  $("run-id").textContent = run.run;
  const facts = $("run-facts");
  facts.replaceChildren();
  const fact = (k, v) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v; dd.id = "fact-" + k.replace(/\\W+/g, "-");
    facts.append(dt, dd);
  };
  fact("name", run.name + " (" + run.kind + ")");
  fact("started", stamp(run.startedAt));
  fact("took", fmt(run.ms, 2) + " ms");
  fact("outcome", run.ok ? "ok" : run.error.code);
  fact("consistency", run.consistency || "lww");
  fact("retries", String(run.attempts - 1) + " (" + run.attempts + " attempt" + (run.attempts === 1 ? "" : "s") + ")");
  waterfall(run);
  const errBox = $("run-error");
  errBox.replaceChildren();
  if (!run.ok) {
    const h = document.createElement("h2"); h.textContent = "Error";
    const p = document.createElement("p"); p.className = "bad"; p.id = "run-error-message";
    p.textContent = run.error.code + ": " + run.error.message;
    errBox.append(h, p);
    if (run.error.stack) {
      const pre = document.createElement("pre"); pre.id = "run-stack"; pre.textContent = run.error.stack;
      errBox.appendChild(pre);
    }
  }
  const logs = $("run-logs");
  try {
    const lines = await api("logs?run=" + encodeURIComponent(run.run));
    if (lines.length === 0) { logs.textContent = "none captured"; return; }
    const pre = document.createElement("pre");
    pre.textContent = lines.map((l) => time(l.at) + " " + l.level + " " + l.fn + "@" + l.node + " " + l.msg).join("\\n");
    logs.replaceChildren(pre);
  } catch (e) {
    logs.textContent = "logs unavailable: " + e.message;
  }
}
function runRows(runs) {
  return runs.map((r) => ({
    cls: "pick" + (r.run === picked ? " sel" : ""),
    data: { run: r.run },
    click: () => pick(r),
    cells: [[time(r.startedAt)], [r.name, "t"], [r.kind], [fmt(r.ms, 2), "n"], [r.ok ? "ok" : r.error.code, r.ok ? "ok t" : "bad t"], [Object.entries(r.placed).map(([f, n]) => f + "→" + n).join(", "), "placement t"]],
  }));
}
async function tick() {
  let s;
  try {
    s = await api("state");
  } catch (e) {
    $("updated").textContent = "unreachable: " + e.message;
    return;
  }
  lastState = s;
  $("updated").textContent = "updated " + time(s.at);
  const rate = [{ key: "calls", label: "calls/s", color: "#2f6fde" }, { key: "errors", label: "errors/s", color: "#b3261e" }];
  const lat = [{ key: "p50Ms", label: "p50", color: "#2f6fde" }, { key: "p99Ms", label: "p99", color: "#e08a00" }];
  legend("legend-rate", rate);
  legend("legend-latency", lat);
  chart("chart-rate", s.series, rate, "calls/s");
  chart("chart-latency", s.series, lat, "ms");
  fill("nodes", s.nodes.map((n) => ({ cells: [[n.id, "t"], [n.addr, "t"], [n.executors, "n"], [n.busy, "n"], [n.queued, "n"], [fmt(n.utilisation * 100, 0) + "%", "n"], [n.cacheKeys, "n"], [n.cacheBytes, "n"]] })));
  fill("functions", s.functions.map((f) => ({ cls: "fn-" + f.name, cells: [[f.name, "t"], [f.calls, "n calls"], [f.inDags, "n in-dags"], [f.errors, f.errors > 0 ? "n bad" : "n"], [fmt(f.callsPerSec, 2), "n"], [fmt(f.p50Ms, 2), "n"], [fmt(f.p99Ms, 2), "n"], [fmt(f.queueMsP50, 2), "n"], [f.nodes.join(", ")], [f.executors, "n"]] })));
  fill("dags", s.dags.map((d) => ({ cells: [[d.name, "t"], [d.calls, "n"], [d.errors, "n"], [fmt(d.callsPerSec, 2), "n"], [fmt(d.p50Ms, 2), "n"]] })));
  fill("runs", runRows(s.runs));
  fill("errors", s.errors.map((r) => ({ cls: "pick" + (r.run === picked ? " sel" : ""), data: { run: r.run }, click: () => pick(r), cells: [[time(r.startedAt)], [r.name, "t"], [r.error.code, "bad t"], [r.error.message, "t"]] })));
}
let keysCursor = null;
let keysPages = 0;
async function listKeys(more) {
  const prefix = $("prefix").value;
  // Marks when a listing has come in (the count of its pages), for whoever waits on it.
  if (!more) delete $("keys").dataset.pages;
  const q = "keys?prefix=" + encodeURIComponent(prefix) + (more && keysCursor ? "&cursor=" + keysCursor : "");
  try {
    const page = await api(q);
    const rows = page.keys.map((k) => ({ cells: [[k.key, "t"], [k.kind ?? "deleted"], [k.bytes, "n"], [k.preview, "t preview"]] }));
    // Further pages are added below the ones shown; a page may be short, even empty, when few
    // keys match: each request scans a bounded part of the keyspace.
    fill("keys", rows, more);
    keysCursor = page.next;
    keysPages = more ? keysPages + 1 : 1;
    $("keys").dataset.pages = String(keysPages);
    $("keys-more").hidden = page.next === null;
    $("keys-note").textContent = (page.capped ? "Stopped at the listing's bound: use a longer prefix to see further. " : "") + "About 50 keys a page; each request scans a bounded part of the keyspace.";
  } catch (e) {
    $("keys-note").textContent = e.message;
  }
}
async function schedules() {
  const list = await api("schedules");
  fill("schedules", list.map((s) => ({ cells: [[s.name, "t"], [s.cron, "t"], [s.target, "t"], [stamp(s.next)], [s.last ? stamp(s.last.tick) + (s.last.ok ? " ok" : " failed") : "not yet", s.last && !s.last.ok ? "bad" : ""], [s.failures, s.failures > 0 ? "n bad" : "n"], [s.lastError ? stamp(s.lastError.tick) + " " + s.lastError.code + ": " + s.lastError.message : "–"]] })));
}
async function functions() {
  const list = await api("functions");
  const box = $("fn-list");
  box.replaceChildren();
  for (const f of list) {
    const h = document.createElement("h2"); h.textContent = f.name; h.className = "fn-name";
    box.appendChild(h);
    if (f.versions.length === 0) {
      const p = document.createElement("p"); p.className = "muted"; p.textContent = "no version history (registered before it was kept)";
      box.appendChild(p);
    }
    f.versions.forEach((v, i) => {
      const d = document.createElement("details");
      d.className = "fn-version";
      if (i === 0) d.open = true;
      const sum = document.createElement("summary");
      sum.textContent = (i === 0 ? "current · " : "") + "registered " + stamp(v.registeredAt) + " · version " + v.version + " · " + v.kind + (v.truncated ? " · source cut" : "");
      const pre = document.createElement("pre"); pre.textContent = v.source;
      d.append(sum, pre);
      box.appendChild(d);
    });
  }
  if (list.length === 0) box.textContent = "no functions registered";
}
const VIEWS = ["overview", "runs", "state", "schedules", "functions"];
function show() {
  const v = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "overview";
  for (const name of VIEWS) {
    $("view-" + name).classList.toggle("on", name === v);
    $("tab-" + name).classList.toggle("on", name === v);
  }
  const load = { state: () => listKeys(false), schedules, functions }[v];
  if (load) load().catch((e) => { $("updated").textContent = e.message; });
  if (v === "runs" && picked === null && lastState && lastState.runs[0]) pick(lastState.runs[0]);
}
$("keys-form").addEventListener("submit", (e) => { e.preventDefault(); listKeys(false); });
$("keys-more").addEventListener("click", () => listKeys(true));
window.addEventListener("hashchange", show);
tick().then(show);
setInterval(tick, POLL_MS);
`;
