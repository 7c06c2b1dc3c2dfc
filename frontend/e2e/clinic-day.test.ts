/**
 * A whole clinic day through the UI: register, book, a conflicting booking refused and the next
 * slot offered, confirm, check in, open the visit, what a receptionist may not do (no sign-off
 * button, and the API refuses anyway), the doctor's visit and sign-off, the invoice, a payment
 * by the gateway's signed webhook, and the day showing it paid.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { BrowserContext, Locator, Page } from "playwright-core";
import {
  WEB,
  api,
  assertAccessible,
  browser,
  gatewayCaptures,
  gzippedSize,
  keepPagesOfFailure,
  recordMetric,
  screenshot,
  signIn,
  tokenFor,
  tokenOf,
} from "./browser";

const CLINIC = "Riverside Family Clinic (clinic)";
const DOCTOR = "Dr. Omar Haddad";
const family = `Walsh${Date.now().toString(36)}`;
let context: BrowserContext;

before(async () => {
  context = await browser();
});
after(async () => {
  await keepPagesOfFailure(context);
  await context.close();
});

function column(page: Page, practitioner: string): Locator {
  return page.locator("section.column", { has: page.getByRole("heading", { name: new RegExp(`^${practitioner}`) }) });
}

async function freeStarts(page: Page, practitioner: string): Promise<string[]> {
  await column(page, practitioner).waitFor();
  return column(page, practitioner)
    .locator("li.free time")
    .evaluateAll((times) => times.map((t) => t.getAttribute("datetime") ?? ""));
}

/** Once the columns show the data of the day the date field names (the page loads a day after
 * its field changes: read too early, the columns are still the day before's). */
async function dayLoaded(page: Page): Promise<string> {
  const day = await page.getByLabel("Date", { exact: true }).inputValue();
  await page.locator(`div.columns[data-date="${day}"]`).waitFor({ state: "attached" });
  return day;
}

/** The next day, loaded. */
async function nextDay(page: Page): Promise<string> {
  const shown = await page.getByLabel("Date", { exact: true }).inputValue();
  await page.getByRole("button", { name: "Next day" }).click();
  await page.waitForFunction((d) => (document.querySelector('input[type="date"]') as HTMLInputElement).value !== d, shown);
  return dayLoaded(page);
}

/** How far ahead a slot starts to be taken here: a slot starting in a few seconds (the page
 * offers every slot not yet begun) would have begun by the time the dialog books it, and the API
 * refuses a start in the past (at xx:29:55, the 30's slot). */
const AHEAD_MS = 5 * 60_000;

/** The day shown moves on until the practitioner has `count` free slots on it starting at least
 * AHEAD_MS from now. */
async function dayWithFreeSlots(page: Page, practitioner: string, count: number): Promise<void> {
  await dayLoaded(page);
  for (let day = 0; day < 3; day += 1) {
    const ahead = (await freeStarts(page, practitioner)).filter((s) => Date.parse(s) > Date.now() + AHEAD_MS);
    if (ahead.length >= count) return;
    await nextDay(page);
  }
  throw new Error(`no day with ${count} free slots for ${practitioner}`);
}

/** The start of the practitioner's first free slot after `after` on the day shown. */
async function freeSlotAfter(page: Page, practitioner: string, after: number): Promise<string> {
  const start = (await freeStarts(page, practitioner)).find((s) => Date.parse(s) > after);
  assert.ok(start, `a free slot for ${practitioner}`);
  return start;
}

function hhmm(iso: string): string {
  return new Date(iso).toISOString().slice(11, 16); // the demo clinic's time zone is UTC
}

test("a whole clinic day through the UI", async () => {
  const desk = await context.newPage();

  await desk.goto(`${WEB}/signin`);
  await desk.getByLabel("Tenant").waitFor();
  await assertAccessible(desk, "sign-in");
  await screenshot(desk, "signin");
  await signIn(desk, CLINIC, "RECEPTIONIST");

  // The Today page: time to interactive, and the JavaScript it loads.
  const started = Date.now();
  await desk.goto(`${WEB}/today`);
  await column(desk, DOCTOR).waitFor();
  await desk.getByRole("button", { name: "Next day" }).waitFor();
  const interactiveMs = Date.now() - started;
  const loaded = await desk.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const scripts = (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).filter((r) => r.initiatorType === "script");
    return {
      domInteractiveMs: Math.round(nav.domInteractive),
      domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
      scripts: scripts.length,
      scriptBytes: scripts.reduce((n, r) => n + r.decodedBodySize, 0),
      urls: scripts.map((r) => new URL(r.name).pathname),
    };
  });
  const { urls, ...timing } = loaded;
  recordMetric("today_page", { timeToInteractiveMs: interactiveMs, ...timing, scriptBytesGzipped: gzippedSize(urls) });
  await assertAccessible(desk, "today");

  // Register a patient: a birth date in the future is refused beside its field.
  await desk.getByRole("link", { name: "Patients" }).click();
  await desk.getByText("Register a patient").click();
  await desk.getByLabel("Given name").fill("Erin");
  await desk.getByLabel("Family name").fill(family);
  await desk.getByLabel("Birth date").fill("2999-01-01");
  await desk.getByLabel("Sex").selectOption("female");
  await desk.getByLabel("Phone", { exact: true }).fill("+1 212 555 0199");
  await desk.getByRole("button", { name: "Register" }).click();
  const birth = desk.getByLabel("Birth date");
  await assert.doesNotReject(birth.and(desk.locator('[aria-invalid="true"]')).waitFor());
  await assertAccessible(desk, "patients with a refused registration");
  await screenshot(desk, "patients");
  await birth.fill("1988-04-12");
  // The cardiac plugin's patient field, outside its range, is refused beside it too.
  const ejection = desk.getByLabel("Left ventricular ejection fraction (%)");
  await ejection.fill("95");
  await desk.getByRole("button", { name: "Register" }).click();
  await ejection.and(desk.locator('[aria-invalid="true"]')).waitFor();
  await ejection.fill("55");
  await desk.getByRole("button", { name: "Register" }).click();
  await desk.waitForURL(/\/patients\/[0-9a-f-]{36}$/);
  await desk.getByRole("heading", { name: `Erin ${family}` }).waitFor();
  await desk.getByRole("definition").filter({ hasText: /^55$/ }).waitFor(); // the plugin's header field
  await assertAccessible(desk, "patient");

  // Edit with If-Match: someone else changes the record first → 412, and a reload.
  const deskToken = await tokenOf(desk);
  const patientId = desk.url().split("/").pop()!;
  await desk.getByText("Edit details").click();
  await desk.getByLabel("Phone", { exact: true }).fill("+1 212 555 0142");
  const elsewhere = await api(deskToken, "PATCH", `/v1/patients/${patientId}`, { email: "erin@example.org" });
  assert.equal(elsewhere.status, 200);
  await desk.getByRole("button", { name: "Save changes" }).click();
  await desk.getByText("Someone changed this record after you opened it").waitFor();
  await desk.getByRole("button", { name: "Reload the record" }).click();
  await assert.doesNotReject(desk.getByLabel("Email").and(desk.locator('[value="erin@example.org"]')).waitFor());
  await screenshot(desk, "patient");

  // Book her into the doctor's first free slot from now on.
  await desk.getByRole("link", { name: "Today" }).click();
  await desk.waitForURL(/\/today/);
  await dayWithFreeSlots(desk, DOCTOR, 3); // this booking, the one taken meanwhile, the one offered
  const first = await freeSlotAfter(desk, DOCTOR, Date.now() + AHEAD_MS);
  await column(desk, DOCTOR).getByRole("button", { name: `Book ${DOCTOR} at ${hhmm(first)}` }).click();
  const dialog = desk.getByRole("dialog");
  await dialog.getByLabel("Find the patient (name or phone)").fill(family);
  await dialog.getByLabel(new RegExp(`Erin ${family}`)).check();
  await dialog.getByLabel("Reason").fill("persistent cough");
  await assertAccessible(desk, "booking dialog");
  await dialog.getByRole("button", { name: "Book", exact: true }).click();
  const booked = column(desk, DOCTOR).getByRole("article", { name: `${hhmm(first)} Erin ${family}` });
  await booked.waitFor();

  // A conflicting booking: another desk takes the next slot while this one is filling it in.
  const second = await freeSlotAfter(desk, DOCTOR, Date.parse(first));
  await column(desk, DOCTOR).getByRole("button", { name: `Book ${DOCTOR} at ${hhmm(second)}` }).click();
  await dialog.getByLabel("Find the patient (name or phone)").fill(family);
  await dialog.getByLabel(new RegExp(`Erin ${family}`)).check();
  const { token: other } = await tokenFor("riverside-demo", "RECEPTIONIST");
  // Its own patient: a demo patient may already be booked with the other doctor at that time.
  const someone = await api(other, "POST", "/v1/patients", {
    given_name: "Bruno",
    family_name: `Okafor${family.slice(5)}`,
    birth_date: "1961-04-12",
    sex: "male",
  });
  assert.equal(someone.status, 201, JSON.stringify(someone.body));
  const practitioners = (await api(other, "GET", "/v1/practitioners")).body.items as { id: string; name: string }[];
  const taken = await api(other, "POST", "/v1/appointments", {
    patient_id: someone.body.id,
    practitioner_id: practitioners.find((p) => p.name === DOCTOR)!.id,
    start: second,
    end: new Date(Date.parse(second) + 30 * 60_000).toISOString(),
  });
  assert.equal(taken.status, 201, JSON.stringify(taken.body));
  // The day follows others' bookings without a reload (it polls at its consistency token).
  await column(desk, DOCTOR).locator(`article[aria-label="${hhmm(second)} Bruno Okafor${family.slice(5)}"]`).waitFor({ state: "attached" });
  await dialog.getByRole("button", { name: "Book", exact: true }).click();
  await dialog.getByText("was just taken by another booking").waitFor();
  await dialog.getByText("SLOT_TAKEN").waitFor();
  await screenshot(desk, "booking-slot-taken");
  const offer = dialog.getByRole("button", { name: /^Book the next free slot, \d\d:\d\d$/ });
  const offered = (await offer.textContent())!.slice(-5);
  await offer.click();
  await column(desk, DOCTOR).getByRole("article", { name: `${offered} Erin ${family}` }).waitFor();

  // Confirm, check in (with a reason when the slot is outside the check-in window), open the visit.
  await booked.getByRole("button", { name: "Confirm" }).click();
  await booked.getByRole("button", { name: "Check in" }).click();
  const window_ = booked.getByLabel("Reason to check in anyway");
  const checkedIn = booked.getByText("Checked in", { exact: true });
  await Promise.race([window_.waitFor(), checkedIn.waitFor()]);
  if (await window_.isVisible()) {
    await window_.fill("came early");
    await booked.getByRole("button", { name: "Check in with this reason" }).click();
  }
  await checkedIn.waitFor();
  await booked.getByRole("button", { name: "Open visit" }).click();
  await desk.waitForURL(/\/visits\/[0-9a-f-]{36}$/);
  const visitUrl = desk.url();
  const visitId = visitUrl.split("/").pop()!;

  // A receptionist may not sign off: no button, and the API refuses anyway.
  await desk.getByRole("heading", { name: `Visit · Erin ${family}` }).waitFor();
  assert.equal(await desk.getByRole("button", { name: "Sign off the visit" }).count(), 0);
  const refused = await api(deskToken, "POST", `/v1/visits/${visitId}/sign-off`);
  assert.equal(refused.status, 403);
  await desk.getByLabel("Code").fill("CONS");
  await desk.getByLabel("Description").fill("Consultation");
  await desk.getByLabel("Unit price").fill("80.00");
  await desk.getByRole("button", { name: "Add service" }).click();
  await desk.getByRole("form", { name: "Add a service" }).getByText("Done.").waitFor();
  await desk.getByText("1 × Consultation (CONS) at 80.00").waitFor();

  // The doctor charts (a systolic of 400 is refused beside its field), writes the note, signs off.
  const doctor = await context.newPage();
  await signIn(doctor, CLINIC, "DOCTOR", DOCTOR);
  await doctor.goto(visitUrl);
  await doctor.getByLabel("Heart rate (/min)").fill("72");
  await doctor.getByLabel("Systolic (mmHg)").fill("400");
  await doctor.getByLabel("Diastolic (mmHg)").fill("80");
  await doctor.getByRole("button", { name: "Record vitals" }).click();
  await doctor.getByLabel("Systolic (mmHg)").and(doctor.locator('[aria-invalid="true"]')).waitFor();
  await doctor.getByLabel("Systolic (mmHg)").fill("120");
  await doctor.getByRole("button", { name: "Record vitals" }).click();
  await doctor.getByRole("cell", { name: "120", exact: true }).waitFor();
  await doctor.getByLabel("Subjective").fill("Cough for two weeks, no fever.");
  await doctor.getByLabel("Objective").fill("Chest clear. SpO2 98 %.");
  await doctor.getByLabel("Assessment").fill("Post-viral cough.");
  await doctor.getByLabel("Plan").fill("Honey, fluids; review in two weeks if not better.");
  await doctor.getByRole("button", { name: "Save note" }).click();
  await doctor.getByRole("form", { name: "SOAP note" }).getByText("Done.").waitFor();
  await doctor.getByRole("button", { name: "Sign off the visit" }).click();
  await doctor.getByText("Signed off", { exact: true }).waitFor();
  await doctor.getByLabel("Addendum", { exact: true }).fill("Patient called: feeling better.");
  await doctor.getByRole("button", { name: "Add addendum" }).click();
  await doctor.getByText("Patient called: feeling better.").waitFor();
  await assertAccessible(doctor, "visit");
  await screenshot(doctor, "visit");

  // The invoice billing drafted at sign-off: a receptionist may not give 50 %, issues it.
  await desk.goto(visitUrl);
  await desk.getByRole("link", { name: /^Invoice: 80\.00 USD/ }).click();
  await desk.waitForURL(/\/billing\/[0-9a-f-]{36}$/);
  const invoiceId = desk.url().split("/").pop()!;
  await desk.getByLabel("Percent").fill("50");
  await desk.getByLabel("Reason", { exact: true }).fill("hardship");
  await desk.getByRole("button", { name: "Apply discount" }).click();
  await desk.getByText("DISCOUNT_NEEDS_APPROVAL").waitFor();
  await desk.getByRole("button", { name: "Issue the invoice" }).click();
  await desk.getByTestId("balance").getByText("80.00 USD").waitFor();

  // The gateway's signed webhook: the payment shows up on the open page, then on the day.
  const { tenantId } = await tokenFor("riverside-demo", "RECEPTIONIST");
  assert.equal(await gatewayCaptures(tenantId, invoiceId, "80.00"), 200);
  await desk.getByTestId("balance").getByText("0.00 USD").waitFor();
  await desk.getByText("paid", { exact: true }).waitFor();
  await assertAccessible(desk, "billing");
  await screenshot(desk, "billing");

  await desk.getByRole("link", { name: "Today" }).click();
  await desk.waitForURL(/\/today/);
  for (let shown = await dayLoaded(desk); shown < first.slice(0, 10); ) {
    shown = await nextDay(desk);
  }
  const paidRow = column(desk, DOCTOR).getByRole("article", { name: `${hhmm(first)} Erin ${family}` });
  await paidRow.getByRole("link", { name: "Paid" }).waitFor();
  await assertAccessible(desk, "today, paid");
  await screenshot(desk, "today");
});
