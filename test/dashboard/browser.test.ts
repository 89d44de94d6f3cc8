/**
 * The dashboard end to end: a real `stratus up` process serving it, driven by headless Chromium
 * (the system's `chromium`, through playwright-core). It signs in with the token, sees a function
 * registered and called through the SDK appear with its call count and a run with its placement,
 * and a failing call under errors.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { Stratus } from "../../src/index.js";
import { startStratus } from "../../testing/processes.js";
import type { Child } from "../../testing/processes.js";

function chromiumPath(): string {
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"])
      .toString()
      .trim();
  } catch {
    throw new Error("no chromium on PATH: apt-get install -y chromium (.ci/run installs it)");
  }
}

describe("dashboard: in a browser", () => {
  const token = "dashboard-e2e-token";
  let up: Child;
  let url: string;
  let stratusUrl: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    up = await startStratus(
      ["up", "--token", token, "--executors", "2", "--http-port", "0"],
      /(Stratus is up at \S+\n[\s\S]*dashboard: \S+)\n/,
    );
    stratusUrl = /Stratus is up at (\S+)/.exec(up.ready)?.[1] ?? assert.fail(up.ready);
    url = /dashboard: (\S+)/.exec(up.ready)?.[1] ?? assert.fail(up.ready);
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await up?.stop();
  });

  it("asks for the token, refuses a wrong one, and keeps a right one in an HttpOnly cookie", async () => {
    await page.goto(url);
    assert.equal(await page.locator("#token").count(), 1, "a login form first");
    const api = await page.request.get(url + "/api/state");
    assert.equal(api.status(), 401, "the state is not served before signing in");

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

  it("shows a function registered and called, its calls, a run with its placement, and errors", async () => {
    const cloud = await Stratus.connect(stratusUrl, { token });
    try {
      await cloud.register("dash_inc", (_ctx, x: number) => x + 1);
      await cloud.register("dash_boom", () => {
        throw new Error("dashboard boom");
      });
      for (let i = 0; i < 3; i++) assert.equal(await cloud.call("dash_inc", [i]), i + 1);
      await assert.rejects(cloud.call("dash_boom", []), { code: "FUNCTION_ERROR" });
    } finally {
      await cloud.close();
    }
    // The page polls every second: wait for the poll that shows every call made above (one poll
    // may fall between the last dash_inc call and the dash_boom one).
    await page.waitForFunction(
      () => {
        // Runs in the page; this program's types have no DOM, so the little used is declared.
        type Doc = { querySelector(s: string): { textContent: string | null } | null };
        const doc = (globalThis as unknown as { document: Doc }).document;
        const calls = Number(doc.querySelector("#functions tr.fn-dash_inc td.calls")?.textContent);
        const errors = doc.querySelector("#errors tbody")?.textContent ?? "";
        return calls >= 3 && errors.includes("dash_boom");
      },
      undefined,
      { timeout: 20_000 },
    );
    const nodeId = (await page.locator("#nodes tbody tr td").first().textContent()) ?? "";
    assert.match(nodeId, /^n-/);
    const placements = await page.locator("#runs td.placement").allTextContents();
    assert.ok(
      placements.includes(`dash_inc→${nodeId}`),
      `a run of dash_inc placed on ${nodeId}: ${placements.join(" | ")}`,
    );
    const errors = await page.locator("#errors tbody").textContent();
    assert.match(errors ?? "", /dash_boom.*FUNCTION_ERROR.*dashboard boom/s);
    const chart = await page
      .locator('#chart-rate polyline[data-series="calls"]')
      .getAttribute("points");
    assert.ok((chart ?? "").split(" ").length > 1, "the call-rate chart has points");
  });
});
