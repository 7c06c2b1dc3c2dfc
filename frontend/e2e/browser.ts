/** What the browser tests share: Debian's Chromium, signing in, accessibility, screenshots. */
import AxeBuilder from "@axe-core/playwright";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const API = process.env.API_URL ?? "http://127.0.0.1:8000";
export const WEB = process.env.WEB_URL ?? "http://127.0.0.1:3000";
const here = path.dirname(new URL(import.meta.url).pathname);
export const SCREENSHOTS = path.resolve(here, "../../docs/screenshots");
export const ARTIFACTS = path.resolve(here, ".artifacts");

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A fresh Chromium profile (its own --user-data-dir) at a laptop's size. */
export async function browser(): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(tmpdir(), "caretrail-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: { width: 1366, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  return context;
}

/** Signs in through the dev sign-in page, as a person would; each tab has its own session. */
export async function signIn(page: Page, tenant: string, role: string, practitioner?: string): Promise<void> {
  await page.goto(`${WEB}/signin`);
  await page.getByLabel("Tenant").selectOption({ label: tenant });
  await page.getByLabel("Role").selectOption(role);
  if (practitioner) await page.getByLabel("Practitioner").selectOption({ label: practitioner });
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/signin"));
}

/** The bearer token of the tab's session, to call the API as that person. */
export async function tokenOf(page: Page): Promise<string> {
  const token = await page.evaluate(() => window.sessionStorage.getItem("caretrail.session"));
  assert.ok(token, "signed in");
  return token;
}

export async function api(
  token: string | null,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${API}${route}`, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A token from the dev sign-in endpoint, for what the tests do outside the UI. */
export async function tokenFor(tenantSlug: string, role: string, practitioner?: string): Promise<{ token: string; tenantId: string }> {
  const options = (await api(null, "GET", "/v1/dev/sign-in")).body as {
    tenants: { id: string; slug: string; practitioners: { id: string; name: string }[] }[];
  };
  const tenant = options.tenants.find((t) => t.slug === tenantSlug);
  assert.ok(tenant, `tenant ${tenantSlug}`);
  const practitionerId = practitioner ? tenant.practitioners.find((p) => p.name === practitioner)?.id : undefined;
  const answer = await api(null, "POST", "/v1/dev/sign-in", { tenant_id: tenant.id, role, practitioner_id: practitionerId ?? null });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return { token: String(answer.body.token), tenantId: tenant.id };
}

/** The payment gateway telling the API of a captured payment, signed as the gateway signs. */
export async function gatewayCaptures(tenantId: string, invoiceId: string, amount: string): Promise<number> {
  const body = JSON.stringify({
    event: "payment.captured",
    payment_id: `pay_${randomUUID()}`,
    tenant_id: tenantId,
    invoice_id: invoiceId,
    amount,
    currency: "USD",
    occurred_at: new Date().toISOString(),
  });
  const signature = createHmac("sha256", process.env.WEBHOOK_SECRET ?? "").update(body).digest("hex");
  const response = await fetch(`${API}/v1/payments/webhook/fakepay`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Signature": `sha256=${signature}` },
    body,
  });
  return response.status;
}

/** axe-core on the page as it stands: no serious or critical violation (WCAG 2.1 AA rules). */
export async function assertAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const grave = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    grave.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `${what}: axe found serious or critical violations`,
  );
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** What the app's scripts at these paths (/_next/static/...) weigh gzipped, as served over the wire. */
export function gzippedSize(paths: string[]): number {
  const build = path.resolve(here, "../.next");
  return paths
    .filter((p) => p.startsWith("/_next/static/"))
    .reduce((n, p) => n + gzipSync(readFileSync(path.join(build, "static", p.slice("/_next/static/".length)))).length, 0);
}

/** Every open page as a screenshot under e2e/.artifacts, to see what a failed test saw. */
export async function keepPagesOfFailure(context: BrowserContext): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [i, page] of context.pages().entries()) {
    await page.screenshot({ path: path.join(ARTIFACTS, `page-${i}.png`), fullPage: true }).catch(() => undefined);
  }
}

export function recordMetric(name: string, value: unknown): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, `${name}.json`), JSON.stringify(value, null, 2));
  console.log(`METRIC ${name} ${JSON.stringify(value)}`);
}
