/** A hospital's census through the UI: who lies where, an admission, a transfer. */
import { after, before, test } from "node:test";
import type { BrowserContext } from "playwright-core";
import { assertAccessible, browser, keepPagesOfFailure, screenshot, signIn } from "./browser";

let context: BrowserContext;
before(async () => {
  context = await browser();
});
after(async () => {
  await keepPagesOfFailure(context);
  await context.close();
});

test("a hospital admits and transfers a patient on the census", async () => {
  const page = await context.newPage();
  await signIn(page, "St. Brigid Hospital (hospital)", "CLINIC_ADMIN");
  await page.getByRole("link", { name: "Census" }).click();
  const inpatients = page.getByRole("table", { name: "Inpatients" });
  await inpatients.getByRole("row", { name: /A1 Ann Lee/ }).waitFor();

  const admit = page.getByRole("form", { name: "Admit a patient" });
  await admit.getByLabel("Find the patient (name or phone)").fill("Costa");
  await admit.getByLabel(/Bruno Costa/).check();
  await admit.getByLabel("Ward").selectOption({ label: "Ward A (5 free)" });
  await admit.getByLabel("Bed").fill("A2");
  await admit.getByLabel("Reason").fill("observation after a fall");
  await admit.getByRole("button", { name: "Admit" }).click();
  await inpatients.getByRole("row", { name: /A2 Bruno Costa/ }).waitFor();

  await page.getByRole("button", { name: "Move or discharge Bruno Costa" }).click();
  const transfer = page.getByRole("form", { name: "Transfer" });
  await transfer.getByLabel("To ward").selectOption({ label: "Cardiac ICU (4 free)" });
  await transfer.getByLabel("To bed").fill("C1");
  await transfer.getByRole("button", { name: "Transfer" }).click();
  await inpatients.getByRole("row", { name: /C1 Bruno Costa/ }).waitFor();
  await assertAccessible(page, "census");
  await screenshot(page, "census");
});
