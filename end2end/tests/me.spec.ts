import { test, expect, signInAs, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

const setting = (page: import("@playwright/test").Page, key: string) =>
  page.locator(`[data-testid="my-setting"][data-key="${key}"]`);

test("an ordinary user changes their own theme in My settings, and has nothing else", async ({ page }) => {
  await signInAs(page, demoURL, "dr_grey", DEMO_PASSWORD);
  await expect(page).toHaveURL(`${demoURL}/me`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("My settings");
  const nav = page.getByRole("navigation", { name: "Sections" });
  await expect(nav.getByRole("link")).toHaveText(["My settings"]);
  await waitForHydration(page);

  // Only the keys users set for themselves.
  await expect(setting(page, "ui.theme")).toBeVisible();
  await expect(setting(page, "fax.retry_attempts")).toHaveCount(0);
  const theme = setting(page, "ui.theme");
  await expect(theme.getByTestId("source")).toHaveText("From default");
  await expect(theme.getByTestId("effective")).toHaveText("system");
  await theme.getByLabel("Value").selectOption("dark");
  await theme.getByRole("button", { name: "Save" }).click();
  await expect(theme.getByTestId("effective")).toHaveText("dark");
  await expect(theme.getByTestId("source")).toHaveText("Your own setting");
  await page.reload();
  await expect(setting(page, "ui.theme").getByTestId("effective")).toHaveText("dark");

  // The chain says where the value comes from.
  await setting(page, "ui.theme").getByText("Where the value comes from").click();
  await expect(setting(page, "ui.theme").getByTestId("chain")).toContainText("user dr_grey");

  await waitForHydration(page);
  await setting(page, "ui.theme").getByRole("button", { name: "Use the inherited value" }).click();
  await expect(setting(page, "ui.theme").getByTestId("effective")).toHaveText("system");
  await expect(setting(page, "ui.theme").getByTestId("source")).toHaveText("From default");

  // The admin console stays closed; its home sends them to My settings.
  await page.goto(`${demoURL}/`);
  await expect(page).toHaveURL(`${demoURL}/me`);
  await page.goto(`${demoURL}/configuration`);
  await expect(page.getByRole("alert").first()).toContainText("may not use the admin console");
});

test("an admin has My settings beside the console", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  const nav = page.getByRole("navigation", { name: "Sections" });
  await expect(nav.getByRole("link", { name: "Configuration" })).toBeVisible();
  await nav.getByRole("link", { name: "My settings" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("My settings");
  await expect(setting(page, "ui.theme")).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("an ordinary user signs in to My settings and saves a value", async ({ page }) => {
    await page.goto(`${demoURL}/login`);
    await page.getByLabel("User name").fill("nurse_joy");
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${demoURL}/me`);
    // Earlier specs lock other keys at the tenant; the theme stays the user's to choose.
    const theme = setting(page, "ui.theme");
    await expect(theme.getByTestId("effective")).toHaveText("system");
    await theme.getByLabel("Value").selectOption("light");
    await theme.getByRole("button", { name: "Save" }).click();
    // The server sends the browser back to the page the form was on.
    await expect(page).toHaveURL(/\/me\??$/);
    await expect(setting(page, "ui.theme").getByTestId("effective")).toHaveText("light");
    await expect(setting(page, "ui.theme").getByTestId("source")).toHaveText("Your own setting");
    await setting(page, "ui.theme").getByRole("button", { name: "Use the inherited value" }).click();
    await expect(setting(page, "ui.theme").getByTestId("effective")).toHaveText("system");
  });
});
