import { test, expect, signInAs, screenshots, waitForHydration, refusedWith } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";
import type { Page } from "@playwright/test";

function line(page: Page, key: string) {
  return page.locator(`[data-testid="preview-row"][data-key="${key}"]`);
}

test("a tenant admin previews a user, filters, compares and downloads", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await page.goto(`${demoURL}/preview`);
  await waitForHydration(page);
  // Found by display name; the page then names the user by id.
  await page.getByLabel("User").first().fill("dr. gregory house");
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("title-a")).toContainText("user dr_house");
  const theme = line(page, "ui.theme");
  await expect(theme.getByTestId("value")).toHaveText("dark");
  await expect(theme.getByTestId("source")).toHaveText("user dr_house");
  await theme.locator("summary").click();
  await expect(theme.locator(".chain-list")).toContainText("default: system");

  // Only values that do not come from the default.
  await page.getByLabel("Only values not from the default").check();
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page).toHaveURL(/changed=true/);
  await expect(line(page, "ui.theme")).toBeVisible();
  await expect(line(page, "features.beta_dashboard")).toHaveCount(0);
  for (const source of await page.getByTestId("source").allTextContents()) {
    expect(source).not.toBe("default");
  }

  // Side by side with a what-if context.
  await page.goto(`${demoURL}/preview?user=dr_house&b_tenant=mercy_hospital&b_department=medical`);
  await waitForHydration(page);
  await expect(page.getByTestId("title-b")).toContainText("tenant mercy_hospital, department medical");
  await expect(line(page, "ui.theme")).toHaveClass(/differs/);
  await expect(line(page, "uploads.max_size_mb")).not.toHaveClass(/differs/);
  await screenshots(page, "preview-compare");

  // Downloads come from the API with the same session.
  const env = await page.request.get(`${demoURL}/api/v1/effective?user=dr_house&format=env`);
  expect(env.status()).toBe(200);
  const text = await env.text();
  expect(text).toContain("UI_THEME=dark");
  expect(text).toContain("PROVIDERS_PHAXIO_API_KEY='••••••'");
  const href = await page.getByRole("link", { name: ".env" }).first().getAttribute("href");
  expect(href).toBe("/api/v1/effective?user=dr_house&format=env");
});

test.describe("refused previews", () => {
  test.use({ allowedErrors: refusedWith(403, 404, 422) });

  test("a department admin may not preview another department's user or another tenant", async ({ page }) => {
    await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
    await page.goto(`${demoURL}/preview?user=dr_grey`);
    await expect(line(page, "ui.theme")).toBeVisible();
    await page.goto(`${demoURL}/preview?user=marketer_mia`);
    await expect(page.getByRole("alert")).toContainText("marketer_mia");
    await page.goto(`${demoURL}/preview?tenant=general_hospital`);
    await expect(page.getByRole("alert")).toContainText("not found");
    // A name finds only users they may see: Mia Chen is in marketing.
    await page.goto(`${demoURL}/preview?user=${encodeURIComponent("Dr. Meredith Grey")}`);
    await expect(page.getByTestId("title-a")).toContainText("user dr_grey");
    await page.goto(`${demoURL}/preview?user=${encodeURIComponent("Mia Chen")}`);
    await expect(page.getByRole("alert")).toContainText('user: no user has the id or name "Mia Chen"');
  });
});

test("a super admin previews a what-if context of groups", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/preview`);
  await waitForHydration(page);
  await page.getByLabel("Tenant").first().fill("mercy_hospital");
  await page.getByLabel("Groups (comma-separated)").first().fill("doctors, emergency_doctors");
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("title-a")).toContainText("tenant mercy_hospital, group doctors, group emergency_doctors");
  // Emergency doctors (priority 20) win over doctors (10).
  const urgency = line(page, "notifications.urgency");
  await expect(urgency.getByTestId("value")).toHaveText("high");
  await expect(urgency.getByTestId("source")).toHaveText("group mercy_hospital/emergency_doctors");
  await screenshots(page, "preview-super-admin");
});
