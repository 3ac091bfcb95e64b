import { test, expect, signInAs, waitForHydration, screenshots } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";
import type { Page } from "@playwright/test";

async function effective(page: Page, user: string) {
  const response = await page.request.get(`${demoURL}/api/v1/effective?user=${user}`);
  expect(response.status()).toBe(200);
  return response.json();
}

function row(page: Page, line: number) {
  return page.locator(`[data-testid="import-row"][data-line="${line}"]`);
}

const FILE = [
  "# the IT department's old settings",
  "export NOTIFICATIONS_URGENCY=low",
  "FAX_RETRY_ATTEMPTS=6",
  "APP_DEBUG=1",
  "OLD_SECRET_TOKEN=abc",
].join("\n");

test("a tenant admin imports a .env file into a department after its dry run", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await page.goto(`${demoURL}/import`);
  await waitForHydration(page);
  await page.getByLabel("Scope").fill("department:mercy_hospital/it");
  // The file is loaded into the text area (where it can still be edited), not sent as a file.
  await page.getByLabel("Or load it from a file").setInputFiles({
    name: "legacy.env",
    mimeType: "text/plain",
    buffer: Buffer.from(FILE),
  });
  await expect(page.getByLabel(".env file")).toHaveValue(FILE);
  await page.getByLabel("Mapping (JSON, optional)").fill('{"ignore": ["APP_DEBUG"]}');
  await page.getByRole("button", { name: "Dry run" }).click();

  // Every line's fate; a name no key matches stops the import.
  await expect(row(page, 2)).toHaveAttribute("data-status", "create");
  await expect(row(page, 2)).toContainText("notifications.urgency");
  await expect(row(page, 3)).toHaveAttribute("data-status", "create");
  await expect(row(page, 4)).toHaveAttribute("data-status", "ignored");
  await expect(row(page, 5)).toHaveAttribute("data-status", "unknown_key");
  await expect(page.getByTestId("import-summary")).toContainText("department:mercy_hospital/it");
  await expect(page.getByRole("button", { name: "Apply" })).toBeDisabled();
  expect((await effective(page, "mercy_secrets"))["notifications.urgency"]["value"]).toBe("normal");

  // Ignoring it too makes the plan clean; applying writes both values at once.
  await page.getByLabel(".env file").fill(FILE);
  await page.getByLabel("Mapping (JSON, optional)").fill('{"ignore": ["APP_DEBUG", "OLD_SECRET_TOKEN"]}');
  await page.getByRole("button", { name: "Dry run" }).click();
  await expect(row(page, 5)).toHaveAttribute("data-status", "ignored");
  // How many users each write reaches (the department's users get "low" instead of "normal").
  await expect(row(page, 2).getByTestId("import-affected")).toHaveText(/^[1-9]\d*$/);
  await screenshots(page, "import-plan");
  await page.getByLabel("Reason (recorded in the audit)").fill("moving off the old server");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByTestId("import-applied")).toHaveText("Applied: 2 created, 0 updated.");
  const secrets = await effective(page, "mercy_secrets");
  expect(secrets["notifications.urgency"]).toEqual({ value: "low", level: "department", scope: "mercy_hospital/it" });
  expect(secrets["fax.retry_attempts"]["value"]).toBe(6);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("paste, dry run and apply work as plain form posts", async ({ page }) => {
    await page.goto(`${demoURL}/login`);
    await page.getByLabel("User name").fill("mercy_admin");
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByTestId("signed-in-as")).toHaveText("mercy_admin");
    await page.goto(`${demoURL}/import`);
    await page.getByLabel("Scope").fill("group:mercy_hospital/nurses");
    await page.getByLabel(".env file").fill("FAX_PRIORITY_PROCESSING=true\n");
    await page.getByRole("button", { name: "Dry run" }).click();
    await expect(page).toHaveURL(/\/import/);
    await expect(row(page, 1)).toHaveAttribute("data-status", "create");
    // The file stays on the server: it is not in the address.
    expect(page.url()).not.toContain("PRIORITY");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByTestId("import-applied")).toHaveText("Applied: 1 created, 0 updated.");
    expect((await effective(page, "nurse_joy"))["fax.priority_processing"]["value"]).toBe(true);
  });
});
