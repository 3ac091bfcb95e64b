import { test, expect } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

// Every form posts to its server function and the server sends the browser back: the
// console works with JavaScript switched off.
test.use({ javaScriptEnabled: false });

test("without JavaScript an admin signs in, saves a value and sees a refusal", async ({ page }) => {
  await page.goto(`${demoURL}/login`);
  await page.getByLabel("User name").fill("root");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("the user name or password is not correct");
  await page.getByLabel("User name").fill("root");
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("root");

  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:mercy_hospital")}`);
  const retries = page.locator('[data-testid="key-row"][data-key="fax.retry_attempts"]');
  await expect(retries.getByTestId("state")).toHaveText("Inherited from default");
  // Whom the value would reach, before saving it: the page answers the form sent by GET.
  await retries.getByLabel("Value").fill("4");
  await retries.getByRole("button", { name: "Preview impact" }).click();
  await expect(page).toHaveURL(/value=4/);
  await expect(retries.getByTestId("impact-reach")).toContainText(/for \d+ users \(mercy_hospital: \d+\)/);
  await expect(retries.getByTestId("state")).toHaveText("Inherited from default");
  await retries.getByLabel("Value").fill("4");
  await retries.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/configuration\?scope=tenant%3Amercy_hospital/);
  await expect(retries.getByTestId("effective")).toHaveText("4");
  await expect(retries.getByTestId("state")).toHaveText("Set here");

  // A template edit's reach too: each entry's links ask the page without saving anything.
  await page.goto(`${demoURL}/templates`);
  const enterprise = page.locator('[data-testid="template"][data-name="enterprise"]');
  const redaction = enterprise.locator('[data-testid="template-entry"][data-key="compliance.phi_redaction"]');
  await redaction.getByTestId("template-impact-lock").click();
  await expect(page).toHaveURL(/template=enterprise/);
  await expect(enterprise.getByTestId("template-impact")).toContainText(/Locking it changes the effective value for \d+ users? \(mercy_hospital: \d+\)/);
  await expect(enterprise.getByTestId("template-impact")).toContainText("department:mercy_hospital/marketing");
  await expect(redaction).not.toContainText("locked");
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:mercy_hospital")}`);

  // A value the key refuses comes back as a message naming it; nothing changes.
  const types = page.locator('[data-testid="key-row"][data-key="uploads.allowed_types"]');
  await types.getByLabel("Value").fill("[oops");
  await types.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert")).toContainText("uploads.allowed_types");
  await expect(page.getByRole("alert")).toContainText("not valid JSON");
  await expect(types.getByTestId("state")).toHaveText("Inherited from default");

  // The lock button works the same way.
  await retries.getByRole("button", { name: "Lock" }).click();
  await expect(retries.getByTestId("locked-here")).toBeVisible();
});
