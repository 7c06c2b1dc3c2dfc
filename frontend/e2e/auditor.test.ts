/**
 * An auditor's as-of view: the record as it stood before a change of name and before a late
 * entry was charted, and the late entry marked once it is there.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { BrowserContext } from "playwright-core";
import { api, assertAccessible, browser, keepPagesOfFailure, screenshot, signIn, tokenFor } from "./browser";

let context: BrowserContext;
before(async () => {
  context = await browser();
});
after(async () => {
  await keepPagesOfFailure(context);
  await context.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("an auditor sees the record as of a past moment, late charting marked", async () => {
  const tag = Date.now().toString(36);
  const { token: desk } = await tokenFor("riverside-demo", "RECEPTIONIST");
  const registered = await api(desk, "POST", "/v1/patients", {
    given_name: "Greta",
    family_name: `Old${tag}`,
    birth_date: "1950-02-03",
    sex: "female",
  });
  assert.equal(registered.status, 201);
  const patientId = String(registered.body.id);
  await pause(1100);
  const before_ = new Date(); // the moment to look back at: registered, not yet renamed
  await pause(1100);
  const renamed = await api(desk, "PATCH", `/v1/patients/${patientId}`, { family_name: `New${tag}` });
  assert.equal(renamed.status, 200);

  // A visit entered late, and vitals taken two hours ago charted now.
  const { token: doctor } = await tokenFor("riverside-demo", "DOCTOR", "Dr. Alice Grey");
  const practitioners = (await api(doctor, "GET", "/v1/practitioners")).body.items as { id: string; name: string }[];
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
  const visit = await api(doctor, "POST", "/v1/visits", {
    patient_id: patientId,
    practitioner_id: practitioners.find((p) => p.name === "Dr. Alice Grey")!.id,
    reason: "fall at home",
    opened_at: hoursAgo(3),
  });
  assert.equal(visit.status, 201, JSON.stringify(visit.body));
  const vitals = await api(doctor, "POST", `/v1/visits/${String(visit.body.id)}/vitals`, {
    heart_rate: 88,
    occurred_at: hoursAgo(2),
  });
  assert.equal(vitals.status, 200, JSON.stringify(vitals.body));

  const page = await context.newPage();
  await signIn(page, "Riverside Family Clinic (clinic)", "AUDITOR");
  await page.getByLabel("Search by name or phone").fill(`New${tag}`);
  await page.getByRole("link", { name: `Greta New${tag}` }).click();
  await page.getByRole("link", { name: "Timeline and as-of view" }).click();
  await page.getByRole("heading", { name: `Timeline of Greta New${tag}` }).waitFor();
  await page.getByText("Charted late").first().waitFor();
  await assertAccessible(page, "timeline");

  // The browser runs on this machine, in its time zone: the moment as its datetime-local reads.
  const two = (n: number) => String(n).padStart(2, "0");
  const d = before_;
  const local = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  await page.getByLabel("As of (your local time)").fill(local);
  await page.getByRole("button", { name: "Show the record as of then" }).click();
  await page.getByRole("heading", { name: `Timeline of Greta Old${tag}` }).waitFor();
  await page.getByText("The record as it stood at").waitFor();
  assert.equal(await page.getByText("Charted late").count(), 0, "nothing charted late was known then");
  await assertAccessible(page, "timeline as of");
  await screenshot(page, "timeline-as-of");

  await page.getByRole("button", { name: "Back to now" }).click();
  await page.getByRole("heading", { name: `Timeline of Greta New${tag}` }).waitFor();
  await page.getByText("Charted late").first().waitFor();
  await screenshot(page, "timeline");
});
