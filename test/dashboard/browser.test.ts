/**
 * The dashboard end to end: a real `stratus up` process over a real Redis, a second node process
 * joined to it, and headless Chromium (the system's `chromium`, through playwright-core). It signs
 * in with the token, runs a workload (calls, a DAG across the two nodes, a failing call, state
 * keys, two schedules of which one fails) and checks each view with that live data: overview
 * charts with legends, axis ticks and gaps, tables that fit 1,280 px; a run's waterfall across
 * nodes with its error and stack; keys with kind, size and preview, page by page; schedules with
 * last and next ticks and errors; functions with the source of each version. Each view is saved
 * to docs/images/ at 1,280 × 800 for the README.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { Stratus } from "../../src/index.js";
import { lattices } from "../../src/lattice/index.js";
import { startStratus, until } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";
import { RedisServer } from "../../testing/redis.js";

const IMAGES = join(import.meta.dirname, "../../docs/images");

function chromiumPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"])
      .toString()
      .trim();
  } catch {
    throw new Error("no chromium on PATH: apt-get install -y chromium (.ci/run installs it)");
  }
}

// Runs in the page: this program's types have no DOM, so the little used is declared.
type El = {
  textContent: string | null;
  scrollWidth: number;
  clientWidth: number;
  getAttribute(n: string): string | null;
  querySelector(s: string): El | null;
};
type Doc = { querySelector(s: string): El | null; querySelectorAll(s: string): El[] };

describe("dashboard: in a browser", () => {
  const token = "dashboard-e2e-token";
  let redis: RedisServer;
  let up: Child;
  let second: Child;
  let url: string;
  let stratusUrl: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    redis = await RedisServer.start();
    up = await startStratus(
      [
        "up",
        "--token",
        token,
        "--store",
        redis.url,
        "--executors",
        "2",
        "--placement",
        "spread",
        "--http-port",
        "0",
      ],
      /(Stratus is up at \S+\n[\s\S]*dashboard: \S+)\n/,
    );
    stratusUrl = /Stratus is up at (\S+)/.exec(up.ready)?.[1] ?? assert.fail(up.ready);
    url = /dashboard: (\S+)/.exec(up.ready)?.[1] ?? assert.fail(up.ready);
    second = await startStratus(
      ["node", "--join", stratusUrl, "--token", token, "--executors", "2", "--id", "n-second"],
      /node (\S+) joined/,
    );
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    await second?.stop();
    await up?.stop();
    await redis?.stop();
  });

  const shot = async (name: string): Promise<void> => {
    mkdirSync(IMAGES, { recursive: true });
    await page.screenshot({ path: join(IMAGES, `dashboard-${name}.png`) });
  };

  /** No table cell is cut off: every table fits its section at this width. */
  const fits = async (view: string): Promise<void> => {
    const over = await page.evaluate((v) => {
      const d = (globalThis as unknown as { document: Doc }).document;
      const secs = d.querySelectorAll(`#view-${v} section`);
      return Array.from(secs)
        .filter((s) => s.scrollWidth > s.clientWidth + 1)
        .map((s) => s.querySelector("h2")?.textContent ?? "?");
    }, view);
    assert.deepEqual(over, [], `sections of ${view} wider than the page`);
  };

  it("asks for the token, refuses a wrong one, and keeps a right one in an HttpOnly cookie", async () => {
    await page.goto(url);
    assert.equal(await page.locator("#token").count(), 1, "a login form first");
    for (const path of ["state", "keys?prefix=", "schedules", "functions", "logs?run=x"]) {
      const api = await page.request.get(`${url}/api/${path}`);
      assert.equal(api.status(), 401, `${path} is not served before signing in`);
    }

    await page.fill("#token", "not-the-token");
    await page.click("#sign-in");
    await page.waitForSelector("#login-error");
    assert.equal((await page.context().cookies()).length, 0);

    await page.fill("#token", token);
    await page.click("#sign-in");
    await page.waitForSelector("#nodes tbody tr td");
    const [c] = await page.context().cookies();
    assert.ok(c !== undefined, "a session cookie");
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, "Strict");
    assert.ok(!c.value.includes(token), "the cookie does not carry the token");
  });

  it("runs a workload", async () => {
    const cloud = await Stratus.connect(stratusUrl, { token });
    try {
      await until(async () => (await cloud.status()).nodes.length === 2, 10_000, "2 nodes");
      await cloud.register("dash_inc", (_ctx, x: number) => x + 1);
      await cloud.register("dash_inc", (_ctx, x: number) => x + 1 + 0); // a second version
      await cloud.register("dash_square", async (_ctx, x: number) => {
        console.log(`squaring ${x}`);
        await new Promise((r) => setTimeout(r, 3));
        return x * x;
      });
      await cloud.register("dash_boom", function explode() {
        throw new Error("dashboard boom");
      });
      await cloud.registerDag("dash_pipe", {
        functions: ["dash_inc", "dash_square"],
        edges: [["dash_inc", "dash_square"]],
      });
      for (let i = 0; i < 3; i++) assert.equal(await cloud.call("dash_inc", [i]), i + 1);
      for (let i = 0; i < 6; i++) {
        assert.equal(await cloud.callDag("dash_pipe", { dash_inc: [i] }), (i + 1) ** 2);
      }
      await assert.rejects(cloud.call("dash_boom", []), { code: "FUNCTION_ERROR" });
      await cloud.put("dash/greeting", { text: "hello", n: 1 });
      await cloud.merge("dash/visits", lattices.counter(41));
      await cloud.merge("dash/tags", lattices.set(["a", "b"]));
      for (let i = 0; i < 60; i++) await cloud.put(`dash/page/${String(i).padStart(2, "0")}`, i);
      await cloud.schedule("dash_every_second", "* * * * * *", { fn: "dash_inc", args: [1] });
      await cloud.schedule("dash_failing", "* * * * * *", { fn: "dash_boom" });
    } finally {
      await cloud.close();
    }
  });

  it("overview: per-function counts that agree, charts with legends, ticks and gaps", async () => {
    await page.goto(`${url}#overview`);
    await page.waitForFunction(
      () => {
        const d = (globalThis as unknown as { document: Doc }).document;
        // (No named helpers in here: the test's transpiler would wrap them in a call the page lacks.)
        return (
          Number(d.querySelector("#functions tr.fn-dash_square td.calls")?.textContent) >= 6 &&
          Number(d.querySelector("#functions tr.fn-dash_inc td.calls")?.textContent) >= 9
        );
      },
      undefined,
      { timeout: 20_000 },
    );
    const cnt = async (fn: string, cls: string) =>
      Number(await page.locator(`#functions tr.fn-${fn} td.${cls}`).textContent());
    assert.equal(
      await cnt("dash_square", "in-dags"),
      6,
      "every DAG run had dash_square as a stage",
    );
    assert.ok((await cnt("dash_square", "in-dags")) <= (await cnt("dash_square", "calls")));
    assert.match((await page.locator("#count-legend").textContent()) ?? "", /in DAG runs/);
    assert.ok(
      ((await page.locator("#functions th[title]").count()) ?? 0) >= 3,
      "the counts' definitions as tooltips",
    );
    assert.deepEqual(await page.locator("#legend-latency span").allTextContents(), ["p50", "p99"]);
    assert.deepEqual(await page.locator("#legend-rate span").allTextContents(), [
      "calls/s",
      "errors/s",
    ]);
    assert.ok((await page.locator("#chart-latency text.ytick").count()) >= 2, "y ticks");
    assert.ok((await page.locator("#chart-latency text.xtick").count()) >= 3, "x ticks");
    // The latency line is broken wherever a second had no runs: as many pieces as the series has
    // stretches of seconds with samples (read in the page, from the same poll it drew).
    const gaps = await page.evaluate(async () => {
      const r = await fetch("/dashboard/api/state");
      const s = (await r.json()) as { series: { p50Ms: number | null }[] };
      let stretches = 0;
      let prev = false;
      for (const p of s.series) {
        if (p.p50Ms !== null && !prev) stretches++;
        prev = p.p50Ms !== null;
      }
      return { stretches, nulls: s.series.filter((p) => p.p50Ms === null).length };
    });
    assert.ok(gaps.nulls > 0, "the window has idle seconds (before the workload)");
    await page.waitForFunction(
      (want) => {
        const d = (globalThis as unknown as { document: Doc }).document;
        const path = d.querySelector('#chart-latency path[data-series="p50Ms"]');
        const moves = (path?.getAttribute("d") ?? "").split("M").length - 1;
        return moves >= want && moves === Number(path?.getAttribute("data-segments"));
      },
      gaps.stretches,
      { timeout: 5_000 },
    );
    await fits("overview");
  });

  it("runs: a DAG run's waterfall across nodes, and a failed run's error and stack", async () => {
    await page.goto(`${url}#runs`);
    await page.waitForSelector("#runs tbody tr.pick");
    const dagRow = page.locator("#runs tbody tr.pick", { hasText: "dash_pipe" }).first();
    await dagRow.click();
    await page.waitForSelector("#waterfall rect.wf-bar");
    const bars = page.locator("#waterfall rect.wf-bar");
    assert.deepEqual(
      (
        await bars.evaluateAll((rs) =>
          (rs as unknown as El[]).map((r) => r.getAttribute("data-fn")),
        )
      ).sort(),
      ["dash_inc", "dash_square"],
    );
    const nodes = new Set(
      await bars.evaluateAll((rs) =>
        (rs as unknown as El[]).map((r) => r.getAttribute("data-node")),
      ),
    );
    assert.equal(nodes.size, 2, "spread placement ran the stages on both nodes");
    assert.equal(await page.locator("#fact-consistency").textContent(), "lww");
    assert.match((await page.locator("#fact-retries").textContent()) ?? "", /^0 /);
    // The run's console lines, from the node that ran dash_square.
    await page.waitForSelector("#run-logs pre");
    assert.match(
      (await page.locator("#run-logs").textContent()) ?? "",
      /info dash_square@\S+ squaring \d+/,
    );
    await fits("runs");

    await page.locator("#errors tbody tr.pick", { hasText: "dash_boom" }).first().click();
    await page.waitForSelector("#run-stack");
    assert.match(
      (await page.locator("#run-error-message").textContent()) ?? "",
      /FUNCTION_ERROR: .*dashboard boom/,
    );
    assert.match((await page.locator("#run-stack").textContent()) ?? "", /explode/);
    await dagRow.click();
    await page.waitForSelector("#waterfall rect.wf-bar");
    await shot("runs");
  });

  it("state: keys by prefix with kind, size and value, a page at a time", async () => {
    await page.goto(`${url}#state`);
    await page.fill("#prefix", "dash/");
    await page.click("#keys-list");
    // Page on until the listing says it is done (a page's size depends on the store's scan).
    let pages = 1;
    await page.waitForSelector(`#keys[data-pages="${pages}"]`);
    while (await page.locator("#keys-more").isVisible()) {
      assert.ok(pages < 20, "the listing ends");
      await page.click("#keys-more");
      await page.waitForSelector(`#keys[data-pages="${++pages}"]`);
    }
    const listed = await page.locator("#keys tbody tr td:first-child").allTextContents();
    assert.equal(new Set(listed).size, 63, "3 keys and 60 pages of them, each once");
    assert.ok(listed.every((k) => k.startsWith("dash/")));
    const row = async (key: string) =>
      page
        .locator("#keys tbody tr", { has: page.locator("td", { hasText: new RegExp(`^${key}$`) }) })
        .allInnerTexts();
    assert.match((await row("dash/visits")).join(), /counter\s+\d+\s+41/);
    assert.match((await row("dash/greeting")).join(), /lww\s+\d+\s+\{"text":"hello","n":1\}/);
    assert.match((await row("dash/tags")).join(), /set/);
    await fits("state");
    await page.fill("#prefix", "dash/page/0");
    await page.click("#keys-list");
    await page.waitForSelector(`#keys[data-pages="1"]`);
    while (await page.locator("#keys-more").isVisible()) {
      const n = Number(await page.locator("#keys").getAttribute("data-pages"));
      await page.click("#keys-more");
      await page.waitForSelector(`#keys[data-pages="${n + 1}"]`);
    }
    const narrowed = await page.locator("#keys tbody tr td:first-child").allTextContents();
    assert.deepEqual(
      [...new Set(narrowed)].sort(),
      Array.from({ length: 10 }, (_, i) => `dash/page/0${i}`),
    );
    await page.fill("#prefix", "dash/");
    await page.click("#keys-list");
    await page.waitForSelector(`#keys[data-pages="1"]`);
    await shot("state");
  });

  it("schedules: next and last tick of each, and the failing one's error", async () => {
    await page.goto(`${url}#schedules`);
    await until(
      async () => {
        await page.reload();
        await page.waitForSelector("#schedules tbody tr");
        const text = (await page.locator("#schedules tbody").textContent()) ?? "";
        return /dash_every_second.*ok/s.test(text) && /dash_failing.*FUNCTION_ERROR/s.test(text);
      },
      15_000,
      "both schedules ticked",
    );
    const failing = await page
      .locator("#schedules tbody tr", { hasText: "dash_failing" })
      .innerText();
    assert.match(failing, /dashboard boom/);
    await fits("schedules");
    await shot("schedules");
  });

  it("functions: each version's source and when it was registered", async () => {
    await page.goto(`${url}#functions`);
    await page.waitForSelector("details.fn-version");
    const api = (await (await page.request.get(`${url}/api/functions`)).json()) as {
      name: string;
      versions: { source: string; registeredAt: number }[];
    }[];
    const versions = api.find((f) => f.name === "dash_inc")?.versions ?? [];
    assert.equal(versions.length, 2, `both versions of dash_inc: ${JSON.stringify(api)}`);
    assert.match(versions[0]?.source ?? "", /x\+1\+0/, "newest first");
    assert.ok((versions[0]?.registeredAt ?? 0) >= (versions[1]?.registeredAt ?? Infinity));
    const shown = await page
      .locator("#fn-list details.fn-version")
      .evaluateAll((ds) => (ds as unknown as El[]).map((d) => d.textContent ?? ""));
    const incShown = shown.filter((t) => t.includes("x+1"));
    assert.equal(incShown.length, 2, "both versions on the page");
    assert.match(incShown[0] ?? "", /^current · registered .*x\+1\+0/s);
    await fits("functions");
    await shot("functions");
  });

  it("overview, once the schedules have ticked for a while (the screenshot)", async () => {
    await page.goto(`${url}#overview`);
    await page.reload();
    await page.waitForSelector("#functions tr.fn-dash_inc");
    await fits("overview");
    await shot("overview");
  });

  it("a listing is bounded: a page size past the limit and a cursor past the bound are refused", async () => {
    const tooBig = await page.request.get(`${url}/api/keys?prefix=&limit=100000`);
    assert.equal(tooBig.status(), 400);
    assert.equal(
      ((await tooBig.json()) as { error: { code: string } }).error.code,
      "INVALID_ARGUMENT",
    );
    const farCursor = await page.request.get(`${url}/api/keys?prefix=&cursor=99999999`);
    assert.equal(farCursor.status(), 400);
  });
});
