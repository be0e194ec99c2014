// One headless Chromium for one pytest "person": commands arrive as JSON lines on stdin
// ({"id", "op", ...arguments}), each answer is one JSON line on stdout ({"id", "ok", "value"}
// or {"id", "ok": false, "error"}). The Python side is tests/browser/driver.py.
//
// The browser is Debian's Chromium (PITBOSS_CHROMIUM, default /usr/bin/chromium), never one
// Playwright downloads, with a fresh profile directory removed on exit. The flags keep it off
// the network: this machine's closed network refuses Chromium's background connections.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
const TIMEOUT_MS = Number(process.env.PITBOSS_BROWSER_TIMEOUT_MS || 30000);

const profile = mkdtempSync(join(tmpdir(), "pitboss-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.PITBOSS_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ARGS,
  viewport: { width: 1280, height: 900 },
});
context.setDefaultTimeout(TIMEOUT_MS);
const page = context.pages()[0] ?? (await context.newPage());

// A function's source applied to a JSON argument: Playwright evaluates a string as an
// expression, so a function given as text must be called in it.
const call = (source, arg) => `(${source})(${JSON.stringify(arg ?? null)})`;

// Each operation takes the command's arguments and returns a JSON-serialisable value.
const OPERATIONS = {
  // the HTTP status of the navigation's response (the page itself may be a 401 login form)
  goto: async ({ url }) => (await page.goto(url, { waitUntil: "load" }))?.status() ?? null,
  fill: ({ selector, value }) => page.fill(selector, value),
  click: ({ selector }) => page.click(selector),
  // clicks and waits for the page the click leads to (a reload too) to load; its URL
  click_and_load: async ({ selector }) => {
    await Promise.all([page.waitForEvent("load"), page.click(selector)]);
    return page.url();
  },
  text: async ({ selector }) => (await page.waitForSelector(selector)).innerText(),
  texts: ({ selector }) => page.locator(selector).allInnerTexts(),
  count: ({ selector }) => page.locator(selector).count(),
  // waits until the function (its source) returns a truthy value for arg; that value. Polled
  // from here: waitForFunction compiles its text in the page, which a strict CSP refuses.
  wait_until: async ({ expression, arg }) => {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const value = await page.evaluate(call(expression, arg)).catch(() => null); // navigating
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`not true within ${TIMEOUT_MS} ms: ${expression}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  },
  screenshot: ({ path }) => page.screenshot({ path, fullPage: true }).then(() => path),
  cookies: () => context.cookies(),
};

async function close() {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

function answer(reply) {
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}

answer({ id: 0, ok: true, value: "ready" });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, op, ...args } = JSON.parse(line);
  if (op === "close") break;
  const operation = OPERATIONS[op];
  try {
    if (!operation) throw new Error(`unknown operation ${op}`);
    answer({ id, ok: true, value: (await operation(args)) ?? null });
  } catch (error) {
    answer({ id, ok: false, error: String(error?.message ?? error).split("\n")[0] });
  }
}
await close();
