// Opens the companion web view's contacts page in the Debian chromium like a person would:
// signs in with an API key on the page, then reads the contacts listed.
// Usage: node contacts_page.mjs '<json config>'; prints one JSON line with what it saw.
import { createRequire } from "node:module";

const require = createRequire(new URL("../browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const cfg = JSON.parse(process.argv[2]);
const out = { errors: [] };
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const browser = await chromium.launch({ executablePath: cfg.chromium, args: FLAGS });
try {
  const context = await browser.newContext({ baseURL: cfg.base, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  page.on("pageerror", (err) => out.errors.push(String(err)));
  await page.goto("/app/");
  await page.getByTestId("sign-in").waitFor({ timeout: 15000 });
  await page.getByLabel("API key").fill(cfg.key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("runs").or(page.getByText("No runs yet.")).waitFor({ timeout: 15000 });
  await page.getByRole("link", { name: "Contacts" }).click();
  await page.getByTestId("contacts").or(page.getByTestId("no-contacts")).waitFor({ timeout: 15000 });
  out.url = page.url();
  out.heading = await page.locator("h1").innerText();
  out.contacts = await page.locator("[data-testid=contacts] li").evaluateAll((items) =>
    items.map((li) => ({
      name: li.querySelector(".name").textContent,
      links: [...li.querySelectorAll("a")].map((a) => a.getAttribute("href")),
      text: li.textContent,
    })));
  if (cfg.shot) await page.screenshot({ path: cfg.shot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
