import { test, expect, signInAs, screenshots, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

test("a tenant admin manages departments, groups and users; deleting asks first", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await page.goto(`${demoURL}/directory`);
  await waitForHydration(page);
  await expect(page.getByRole("navigation", { name: "Tenants" }).getByRole("link")).toHaveCount(1);

  await page.getByLabel("Id").first().fill("radiology");
  await page.locator("#new-dept-name").fill("Radiology");
  await page.getByRole("button", { name: "Add department" }).click();
  await expect(page.getByTestId("departments").locator('li[data-id="radiology"]')).toBeVisible();

  await page.locator("#new-group-id").fill("residents");
  await page.locator("#new-group-name").fill("Residents");
  await page.locator("#new-group-priority").fill("7");
  await page.getByRole("button", { name: "Add group" }).click();
  const residents = page.getByTestId("groups").locator('li[data-id="residents"]');
  await expect(residents).toBeVisible();
  await residents.getByLabel("Priority").fill("12");
  // The page reloads its data after a change; wait for that before using the next form.
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/fn/directory_page")),
    residents.getByRole("button", { name: "Save" }).click(),
  ]);

  await page.locator("#new-user-id").fill("dr_new");
  await page.locator("#new-user-name").fill("Dr. New");
  await page.locator("#new-user-department").selectOption("radiology");
  const newUser = page.getByTestId("new-user");
  await newUser.getByTestId("user-groups").getByLabel("Residents").check();
  // A tenant admin may not grant super_admin: that box is there but cannot be ticked.
  await expect(newUser.getByTestId("user-traits").getByLabel("super_admin")).toBeDisabled();
  await newUser.getByTestId("user-traits").getByLabel("config_write").check();
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByTestId("users").locator('li[data-id="dr_new"]')).toBeVisible();

  // Persisted.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("groups").locator('li[data-id="residents"]').getByLabel("Priority")).toHaveValue("12");
  await expect(page.locator("#user-dr_new-department")).toHaveValue("radiology");
  const drNew = page.getByTestId("users").locator('li[data-id="dr_new"]');
  await expect(drNew.getByTestId("user-groups").getByLabel("Residents")).toBeChecked();
  await expect(drNew.getByTestId("user-groups").getByLabel("Doctors", { exact: true })).not.toBeChecked();
  await expect(drNew.getByTestId("user-traits").getByLabel("config_write")).toBeChecked();

  // A value at the department, then deleting it asks and names what goes with it.
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("department:mercy_hospital/radiology")}`);
  await waitForHydration(page);
  const chat = page.locator('[data-testid="key-row"][data-key="features.chat.enabled"]');
  await chat.getByLabel("Off", { exact: true }).check();
  await chat.getByRole("button", { name: "Save" }).click();
  await expect(chat.getByTestId("state")).toHaveText("Set here");

  await page.goto(`${demoURL}/directory`);
  await waitForHydration(page);
  await page.getByTestId("departments").locator('li[data-id="radiology"]').getByRole("link", { name: "Delete…" }).click();
  await waitForHydration(page);
  await expect(page.getByTestId("held")).toContainText("1 configuration entries");
  await screenshots(page, "directory-confirm-delete");
  await page.getByTestId("confirm-delete").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("departments").locator('li[data-id="radiology"]')).toHaveCount(0);
  await page.reload();
  await expect(page.locator("#user-dr_new-department")).toHaveValue("");
});

test("a department admin reads the directory but may not change it", async ({ page }) => {
  await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
  await page.goto(`${demoURL}/directory`);
  await expect(page.getByTestId("directory-read-only")).toContainText("only tenant admins");
  await expect(page.getByRole("button", { name: "Add department" })).toBeDisabled();
  await expect(page.getByTestId("delete-tenant")).toHaveCount(0);
});

test("a super admin adds and deletes a tenant", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/directory`);
  await waitForHydration(page);
  await page.locator("#new-tenant-id").fill("east_clinic");
  await page.locator("#new-tenant-name").fill("East Clinic");
  await page.getByRole("button", { name: "Add tenant" }).click();
  const tabs = page.getByRole("navigation", { name: "Tenants" });
  await expect(tabs.getByRole("link", { name: "East Clinic" })).toBeVisible();
  await tabs.getByRole("link", { name: "East Clinic" }).click();
  await waitForHydration(page);
  await page.getByTestId("delete-tenant").click();
  await waitForHydration(page);
  await expect(page.getByTestId("held")).toContainText("no configuration entries");
  await page.getByTestId("confirm-delete").getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("confirm-delete")).toHaveCount(0);
  await page.goto(`${demoURL}/directory`);
  await expect(page.getByRole("navigation", { name: "Tenants" }).getByRole("link", { name: "Mercy Hospital Network" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Tenants" }).getByRole("link", { name: "East Clinic" })).toHaveCount(0);
});

test("a super admin renames a tenant and edits a user's department, groups, traits and disabled flag", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/directory?tenant=general_hospital`);
  await waitForHydration(page);
  await page.locator("#tenant-name").fill("General Hospital Group");
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/fn/directory_page")),
    page.getByRole("button", { name: "Rename tenant" }).click(),
  ]);
  const tabs = page.getByRole("navigation", { name: "Tenants" });
  await expect(tabs.getByRole("link", { name: "General Hospital Group" })).toBeVisible();

  const vic = page.getByTestId("users").locator('li[data-id="visitor_vic"]');
  await vic.getByLabel("Name").fill("Vic Visitor");
  await vic.getByLabel("Department").selectOption("cardiology");
  await vic.getByTestId("user-groups").getByLabel("On call").check();
  // Super admins may grant every trait; super_admin stays for platform users (the server says so).
  await expect(vic.getByTestId("user-traits").getByLabel("super_admin")).toBeEnabled();
  await vic.getByTestId("user-traits").getByLabel("secrets_read").check();
  await vic.getByLabel("Disabled").check();
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/fn/directory_page")),
    vic.getByRole("button", { name: "Save" }).click(),
  ]);
  await expect(page.getByTestId("directory-error")).toHaveCount(0);
  await screenshots(page, "directory-super-admin");

  // Persisted, in the page after a reload and in the API's export.
  await page.reload();
  await waitForHydration(page);
  await expect(tabs.getByRole("link", { name: "General Hospital Group" })).toBeVisible();
  await expect(vic.getByLabel("Name")).toHaveValue("Vic Visitor");
  await expect(vic.getByLabel("Department")).toHaveValue("cardiology");
  await expect(vic.getByTestId("user-groups").getByLabel("On call")).toBeChecked();
  await expect(vic.getByTestId("user-groups").getByLabel("Staff")).not.toBeChecked();
  await expect(vic.getByTestId("user-traits").getByLabel("secrets_read")).toBeChecked();
  await expect(vic.getByLabel("Disabled")).toBeChecked();
  const exported = await page.request.get(`${demoURL}/api/v1/export`);
  expect(exported.ok()).toBeTruthy();
  const doc = await exported.json();
  expect(doc.tenants.find((t: { id: string }) => t.id === "general_hospital").name).toBe("General Hospital Group");
  const user = doc.users.find((u: { id: string }) => u.id === "visitor_vic");
  expect(user).toMatchObject({
    name: "Vic Visitor",
    department: "cardiology",
    groups: ["on_call"],
    traits: ["secrets_read"],
    disabled: true,
  });

  // Unticking a group and the flag takes them away again.
  await vic.getByTestId("user-groups").getByLabel("On call").uncheck();
  await vic.getByLabel("Disabled").uncheck();
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/fn/directory_page")),
    vic.getByRole("button", { name: "Save" }).click(),
  ]);
  await page.reload();
  await expect(vic.getByTestId("user-groups").getByLabel("On call")).not.toBeChecked();
  await expect(vic.getByLabel("Disabled")).not.toBeChecked();
});
