import { test, expect, signInAs, waitForHydration, screenshots } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

async function effective(page: import("@playwright/test").Page, user: string) {
  const response = await page.request.get(`${demoURL}/api/v1/effective?user=${user}`);
  expect(response.status()).toBe(200);
  return response.json();
}

test("a template edit reaches the users of a following tenant at once, with drift to reset", async ({ page, browser }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/templates`);
  await waitForHydration(page);
  const healthcare = page.locator('[data-testid="template"][data-name="healthcare"]');
  await expect(healthcare).toContainText("tenant template · followed by 1 scope(s)");
  await expect(healthcare.getByTestId("following")).toHaveText("Followed by: tenant:general_hospital");
  await expect(healthcare.locator('[data-testid="template-entry"][data-key="compliance.hipaa.enabled"]')).toContainText("locked");

  // General Hospital follows healthcare: a new template value reaches its users at once.
  expect((await effective(page, "clerk_cole"))["fax.retry_attempts"]["value"]).toBe(3);
  await healthcare.getByLabel("Key").selectOption("fax.retry_attempts");
  await healthcare.getByLabel("Value").fill("8");
  // Whom it reaches shows while typing, before anything is saved.
  await expect(healthcare.getByTestId("template-impact")).toContainText(/Saving this changes the effective value for \d+ users? \(general_hospital: \d+\)/);
  expect((await effective(page, "clerk_cole"))["fax.retry_attempts"]["value"]).toBe(3);
  await healthcare.getByRole("button", { name: "Set in template" }).click();
  await expect(healthcare.locator('[data-testid="template-entry"][data-key="fax.retry_attempts"]')).toContainText("8");
  const cole = await effective(page, "clerk_cole");
  expect(cole["fax.retry_attempts"]).toEqual({ value: 8, level: "tenant", scope: "general_hospital", template: "healthcare" });

  // The editor names the template as the source.
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:general_hospital")}`);
  await waitForHydration(page);
  const retry = page.locator('[data-testid="key-row"][data-key="fax.retry_attempts"]');
  await expect(retry.getByTestId("state")).toHaveText("Inherited from template healthcare");

  // The tenant's own value for a key the template sets is drift; resetting removes it.
  await page.goto(`${demoURL}/templates`);
  await waitForHydration(page);
  await healthcare.getByLabel("Key").selectOption("fax.sip.trunk_host");
  await healthcare.getByLabel("Value").fill("sip.platform.internal");
  await healthcare.getByRole("button", { name: "Set in template" }).click();
  const drift = healthcare.locator('[data-testid="drift"][data-scope="tenant:general_hospital"][data-key="fax.sip.trunk_host"]');
  await expect(drift).toContainText("sip.general.internal");
  await screenshots(page, "templates");
  await drift.getByRole("button", { name: "Reset to template" }).click();
  await expect(drift).toHaveCount(0);
  expect((await effective(page, "clerk_cole"))["fax.sip.trunk_host"]["value"]).toBe("sip.platform.internal");

  // A tenant admin reads templates but may not change them.
  const other = await browser.newContext();
  const admin = await other.newPage();
  await signInAs(admin, demoURL, "mercy_admin", DEMO_PASSWORD);
  await admin.goto(`${demoURL}/templates`);
  await waitForHydration(admin);
  await expect(admin.getByTestId("templates-read-only")).toContainText("only super admins");
  await expect(admin.getByRole("button", { name: "Set in template" }).first()).toBeDisabled();
  await other.close();

  // Removing the entry gives the users the value they inherit again: asked first, then done.
  await healthcare
    .locator('[data-testid="template-entry"][data-key="fax.retry_attempts"]')
    .getByTestId("template-impact-remove")
    .click();
  await expect(healthcare.getByTestId("template-impact")).toContainText(/Removing it changes the effective value for \d+ users? \(general_hospital: \d+\)/);
  expect((await effective(page, "clerk_cole"))["fax.retry_attempts"]["value"]).toBe(8);
  await healthcare
    .locator('[data-testid="template-entry"][data-key="fax.retry_attempts"]')
    .getByRole("button", { name: "Remove" })
    .click();
  await expect(healthcare.locator('[data-testid="template-entry"][data-key="fax.retry_attempts"]')).toHaveCount(0);
  expect((await effective(page, "clerk_cole"))["fax.retry_attempts"]["value"]).toBe(3);
});
