/**
 * The dashboard's two pages, self-contained: inline CSS, inline script (nonce), SVG charts. The
 * script is in script.ts; views are tabs of one page, chosen by the URL's hash.
 */
import { SCRIPT } from "./script.js";

const STYLE = `
body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:18px;margin:0}
main{padding:16px 20px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(460px,1fr))}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px;overflow:auto}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
table{table-layout:fixed}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;overflow-wrap:anywhere;vertical-align:top}
th{font-weight:600;font-size:13px}
td.t,th.t{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
th[title]{text-decoration:underline dotted;cursor:help}
td.n,th.n{text-align:right}
.bad{color:#b3261e}.ok{color:#1e7b34}.muted{color:#7a8294}
section.wide{grid-column:1/-1}
form.login{max-width:360px;margin:80px auto;background:#fff;padding:24px;border:1px solid #dde1e7;border-radius:6px}
form.login input{width:100%;box-sizing:border-box;padding:8px;margin:8px 0}
button{padding:6px 14px}
svg text{font-size:10px;fill:#5d6475}
nav{display:flex;gap:4px;padding:8px 20px 0;background:#1d2330}
nav a{color:#c8cdd8;text-decoration:none;padding:6px 14px;border-radius:6px 6px 0 0}
nav a.on{background:#f6f7f9;color:#1d2330}
.view{display:none}.view.on{display:grid}
.legend{display:flex;gap:14px;font-size:12px;margin:0 0 4px}
.legend i{display:inline-block;width:12px;height:3px;vertical-align:middle;margin-right:4px}
.note{font-size:12px;color:#5d6475;margin:6px 0 0}
tr.pick{cursor:pointer}tr.pick:hover{background:#f0f4fb}tr.sel{background:#e3ecfb}
pre{background:#f3f4f7;padding:8px;overflow:auto;max-height:320px;font-size:12px;margin:4px 0;white-space:pre-wrap;overflow-wrap:anywhere}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 8px}dl.kv dt{color:#5d6475}dl.kv dd{margin:0}
input[type=text]{padding:5px;width:280px}
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

/** Count definitions, shown as the functions table's tooltips and legend. */
const DEFINE = {
  calls:
    "Invocations: every time a node ran the function (single calls, DAG stages, nested calls, retried attempts), since the cluster started, departed nodes included",
  inDags: "Of those invocations, the ones that ran as a stage of a DAG of several functions",
  errors: "Invocations that failed",
  rate: "Invocations per second over the nodes' last statistics window",
  dagRuns: "Runs of the DAG answered to callers, since the cluster started",
};

/** The dashboard; its script polls `/dashboard/api/state` every `pollMs`. */
export function dashboardPage(nonce: string, pollMs: number): string {
  const th = (label: string, title: string, cls = "n"): string =>
    `<th class="${cls}" title="${escape(title)}">${label}</th>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Stratus dashboard</title>
<style>${STYLE}</style></head><body>
<header><h1>Stratus</h1><span><span id="updated" class="muted"></span>
<form method="post" action="/dashboard/logout" style="display:inline"><button>Sign out</button></form></span></header>
<nav><a id="tab-overview" href="#overview">Overview</a><a id="tab-runs" href="#runs">Runs</a><a id="tab-state" href="#state">State</a><a id="tab-schedules" href="#schedules">Schedules</a><a id="tab-functions" href="#functions">Functions</a></nav>
<main id="view-overview" class="view">
<section><h2>Calls per second</h2><div class="legend" id="legend-rate"></div><svg id="chart-rate" viewBox="0 0 560 170" width="100%"></svg></section>
<section><h2>Latency (ms)</h2><div class="legend" id="legend-latency"></div><svg id="chart-latency" viewBox="0 0 560 170" width="100%"></svg></section>
<section class="wide"><h2>Nodes</h2><table id="nodes"><colgroup><col style="width:16%"><col style="width:24%"><col><col><col><col><col><col></colgroup><thead><tr><th>node</th><th>address</th><th class="n">executors</th><th class="n">busy</th><th class="n">queued</th><th class="n">utilisation</th><th class="n">cached keys</th><th class="n">cache bytes</th></tr></thead><tbody></tbody></table></section>
<section class="wide"><h2>Functions</h2><table id="functions"><colgroup><col style="width:18%"><col><col><col><col><col><col><col><col style="width:18%"><col></colgroup><thead><tr><th>function</th>${th("calls", DEFINE.calls)}${th("in DAG runs", DEFINE.inDags)}${th("errors", DEFINE.errors)}${th("calls/s", DEFINE.rate)}<th class="n">p50 ms</th><th class="n">p99 ms</th><th class="n">queue p50</th><th>nodes</th><th class="n">executors</th></tr></thead><tbody></tbody></table>
<p class="note" id="count-legend"><b>calls</b>: ${escape(DEFINE.calls)}. <b>in DAG runs</b>: ${escape(DEFINE.inDags)}, so never more than calls; calls − in DAG runs are single and nested calls. <b>errors</b>: ${escape(DEFINE.errors)}.</p>
<h2 style="margin-top:12px">DAGs</h2><table id="dags"><thead><tr><th>DAG</th>${th("runs", DEFINE.dagRuns)}<th class="n">errors</th><th class="n">runs/s</th><th class="n">p50 ms</th></tr></thead><tbody></tbody></table></section>
</main>
<main id="view-runs" class="view">
<section class="wide" id="run-detail"><h2>Run <span id="run-id" class="muted">(pick one below)</span></h2>
<dl class="kv" id="run-facts"></dl>
<div class="legend" id="legend-waterfall"></div><svg id="waterfall" viewBox="0 0 1180 60" width="100%"></svg>
<div id="run-error"></div>
<h2 style="margin-top:10px">Logs</h2><div id="run-logs" class="muted">none captured</div></section>
<section><h2>Recent runs</h2><table id="runs"><colgroup><col style="width:15%"><col style="width:18%"><col style="width:8%"><col style="width:9%"><col style="width:15%"><col></colgroup><thead><tr><th>when</th><th>name</th><th>kind</th><th class="n">ms</th><th>outcome</th><th>placement</th></tr></thead><tbody></tbody></table></section>
<section><h2>Failed runs</h2><table id="errors"><colgroup><col style="width:17%"><col style="width:22%"><col style="width:24%"><col></colgroup><thead><tr><th>when</th><th>name</th><th>code</th><th>message</th></tr></thead><tbody></tbody></table></section>
</main>
<main id="view-state" class="view">
<section class="wide"><h2>State</h2><form id="keys-form"><label for="prefix">Key prefix </label><input id="prefix" type="text" placeholder="(all keys)"> <button id="keys-list" type="submit">List</button></form>
<table id="keys"><colgroup><col style="width:26%"><col style="width:10%"><col style="width:10%"><col></colgroup><thead><tr><th>key</th><th>kind</th><th class="n">bytes</th><th>value</th></tr></thead><tbody></tbody></table>
<p class="note"><button id="keys-more" type="button" hidden>Next page</button> <span id="keys-note"></span></p></section>
</main>
<main id="view-schedules" class="view">
<section class="wide"><h2>Schedules</h2><table id="schedules"><colgroup><col style="width:14%"><col style="width:13%"><col style="width:13%"><col style="width:14%"><col style="width:18%"><col style="width:7%"><col></colgroup><thead><tr><th>schedule</th><th>cron</th><th>runs</th><th>next tick</th><th>last tick</th><th class="n">failures</th><th>last error</th></tr></thead><tbody></tbody></table></section>
</main>
<main id="view-functions" class="view">
<section class="wide"><h2>Functions and their versions</h2><div id="fn-list"></div></section>
</main>
<script nonce="${nonce}">${SCRIPT.replace("POLL_MS", String(pollMs))}</script>
</body></html>`;
}
