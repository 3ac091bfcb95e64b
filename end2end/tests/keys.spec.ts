import { test, expect, signInAs, waitForHydration, refusedWith } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

// The refused default (out of bounds) answers 422 on purpose.
test.use({ allowedErrors: refusedWith(422) });

test("a super admin defines, changes and deletes a key; a tenant admin only reads", async ({ page, browser }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/keys`);
  await waitForHydration(page);
  await page.locator("#new-key-key").fill("jobs.parallel");
  await page.locator("#new-key-type").selectOption("integer");
  await page.locator("#new-key-category").fill("Jobs");
  await page.locator("#new-key-default").fill("3");
  await page.locator("#new-key-min").fill("1");
  await page.locator("#new-key-max").fill("10");
  await page.getByRole("button", { name: "Define key" }).click();
  await expect(page.getByTestId("key-saved")).toBeVisible();
  const definition = page.locator('[data-testid="key-def"][data-key="jobs.parallel"]');
  await expect(definition).toContainText("integer · Jobs");

  // A default outside the bounds is refused, naming the field.
  await definition.locator("summary").click();
  await page.locator("#k-jobs\\.parallel-default").fill("50");
  await definition.getByRole("button", { name: "Save key" }).click();
  await expect(page.getByTestId("key-error")).toContainText("default");
  await page.locator("#k-jobs\\.parallel-max").fill("100");
  await definition.getByRole("button", { name: "Save key" }).click();
  await expect(page.getByTestId("key-saved")).toBeVisible();
  await page.reload();
  await expect(page.locator("#k-jobs\\.parallel-default")).toHaveValue("50");

  // The editor offers it with its bounds.
  await page.goto(`${demoURL}/configuration?scope=global`);
  const row = page.locator('[data-testid="key-row"][data-key="jobs.parallel"]');
  await expect(row.getByLabel("Value")).toHaveAttribute("max", "100");

  // A tenant admin reads the registry, every control disabled with the reason.
  const other = await browser.newContext();
  const admin = await other.newPage();
  await signInAs(admin, demoURL, "mercy_admin", DEMO_PASSWORD);
  await admin.goto(`${demoURL}/keys`);
  await expect(admin.getByTestId("keys-read-only")).toContainText("only super admins");
  await expect(admin.getByRole("button", { name: "Define key" })).toBeDisabled();
  await other.close();

  await page.goto(`${demoURL}/keys?confirm=jobs.parallel`);
  await waitForHydration(page);
  await expect(page.getByTestId("held")).toContainText("0 entries");
  await page.getByTestId("confirm-delete").getByRole("button", { name: "Delete" }).click();
  await expect(page.locator('[data-testid="key-def"][data-key="jobs.parallel"]')).toHaveCount(0);
});

test("a department admin reads the registry but may not change it", async ({ page }) => {
  await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
  await page.goto(`${demoURL}/keys`);
  await waitForHydration(page);
  await expect(page.getByTestId("keys-read-only")).toContainText("only super admins");
  await expect(page.locator('[data-testid="key-def"][data-key="uploads.max_size_mb"]')).toContainText("integer");
  await expect(page.getByRole("button", { name: "Define key" })).toBeDisabled();
  await page.locator('[data-testid="key-def"][data-key="uploads.max_size_mb"] summary').click();
  await expect(page.locator('[data-testid="key-def"][data-key="uploads.max_size_mb"]').getByRole("button", { name: "Save key" })).toBeDisabled();
  // Asking for a delete by address shows no way to do it.
  await page.goto(`${demoURL}/keys?confirm=uploads.max_size_mb`);
  await expect(page.getByTestId("confirm-delete").getByRole("button", { name: "Delete" })).toHaveCount(0);
});
