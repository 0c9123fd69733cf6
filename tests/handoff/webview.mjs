// Drives the Debian chromium through the companion web view like a person on a phone:
// open the pushed deep link, read the artifact, press Approve, watch the run complete.
// Usage: node webview.mjs '<json config>'; prints one JSON line with what it saw.
import { createRequire } from "node:module";

const require = createRequire(new URL("../browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const out = { steps: [] };
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const browser = await chromium.launch({ executablePath: cfg.chromium, args: FLAGS });
try {
  const context = await browser.newContext({ ...PHONE, baseURL: cfg.base });
  await context.grantPermissions(["notifications"], { origin: cfg.base });
  const page = await context.newPage();
  page.on("console", (m) => out.steps.push(`console ${m.type()}: ${m.text()}`));

  const opened = await page.goto(cfg.link);
  out.link_status = opened.status();
  out.url_after_link = page.url();
  const artifact = page.getByTestId("artifact").first();
  await artifact.waitFor({ timeout: 20000 });
  out.artifact_text = await artifact.innerText();
  out.artifact_has_table = (await artifact.locator("table td").count()) > 0;
  await page.screenshot({ path: cfg.shots.artifact });
  const approval = page.getByTestId("approval");
  await approval.waitFor({ timeout: 20000 });
  out.question = await page.locator("[data-testid=approval] .question").innerText();
  out.status_before = await page.getByTestId("status").first().getAttribute("data-status");
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: cfg.shots.approval });

  await page.getByTestId("approve").click();
  await page.locator("[data-testid=status][data-status=completed]").waitFor({ timeout: 30000 });
  out.status_after = "completed";
  out.result = await page.getByTestId("result").innerText();
  out.timeline = await page.locator("[data-testid=timeline] li").evaluateAll(
    (items) => items.map((li) => li.dataset.type));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: cfg.shots.completed });
  await page.screenshot({ path: cfg.shots.full, fullPage: true });

  // The steps from the run's trace, read on the phone without scrolling sideways. The
  // approved step's spans are stored after it ends, so reload until it shows its tool call.
  const trace = page.getByTestId("trace");
  for (let i = 0; i < 50; i++) {
    if ((await trace.count()) && (await trace.innerText()).includes("succeeded, approved")) break;
    await page.waitForTimeout(200);
    await page.reload();
    await page.getByTestId("timeline").waitFor({ timeout: 10000 });
  }
  out.trace_steps = await page.locator("[data-testid=trace] li .step-title").allInnerTexts();
  out.trace_lines = await page.locator("[data-testid=trace] li .detail").allInnerTexts();
  out.trace_cost = await page.getByTestId("trace-cost").innerText();
  out.horizontal_overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await trace.scrollIntoViewIfNeeded();
  await page.screenshot({ path: cfg.shots.trace });
  out.service_worker = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration("/app/");
    return reg ? reg.scope : null;
  });

  // The run list, and what subscribing to push gives in this browser.
  await page.goto("/app/");
  await page.getByTestId("runs").waitFor({ timeout: 10000 });
  out.runs_listed = await page.locator("[data-testid=runs] li").count();
  await page.getByRole("button", { name: "Notify me on this device" }).click();
  await page.waitForFunction(
    () => (document.querySelector("[data-testid=push-status]") || {}).textContent,
    null, { timeout: 15000 }).catch(() => null);
  out.push_status = await page.getByTestId("push-status").innerText();

  // A fresh phone: forged and expired links are refused and sign nobody in.
  const stranger = await browser.newContext({ ...PHONE, baseURL: cfg.base });
  const p2 = await stranger.newPage();
  for (const [name, link] of [["tampered", cfg.tampered], ["expired", cfg.expired]]) {
    const res = await p2.goto(link);
    out[`${name}_status`] = res.status();
    out[`${name}_text`] = await p2.locator("#refused").innerText();
  }
  await p2.goto("/app/");
  await p2.getByTestId("sign-in").waitFor({ timeout: 10000 });
  out.stranger_sees_sign_in = true;
  out.ok = true;
} catch (err) {
  out.ok = false;
  out.error = String(err && err.stack || err);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + "\n");
