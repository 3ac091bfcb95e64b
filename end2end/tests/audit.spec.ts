import { test, expect, signInAs, screenshots, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

test("a tenant admin finds a change, sees old → new and reverts it with confirmation", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:mercy_hospital")}`);
  await waitForHydration(page);
  const logo = page.locator('[data-testid="key-row"][data-key="branding.logo_url"]');
  for (const version of ["1", "2"]) {
    await logo.getByLabel("Value").fill(`https://cdn.example/logo-${version}.png`);
    await logo.getByRole("button", { name: "Save" }).click();
    await expect(logo.getByTestId("effective")).toHaveText(`https://cdn.example/logo-${version}.png`);
  }

  await page.goto(`${demoURL}/audit`);
  await waitForHydration(page);
  await expect(page.getByTestId("integrity")).toHaveCount(0);
  await page.getByLabel("Key prefix").fill("branding.logo");
  await page.getByLabel("Level").selectOption("tenant");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/key=branding\.logo/);
  const newest = page.getByTestId("event").first();
  await expect(newest.getByTestId("diff")).toContainText("logo-1.png");
  await expect(newest.getByTestId("diff")).toContainText("logo-2.png");
  await expect(page.getByTestId("event")).toHaveCount(2);

  await newest.getByTestId("revert").click();
  await waitForHydration(page);
  const confirm = page.getByTestId("confirm");
  await expect(confirm).toContainText("back to");
  await confirm.getByLabel("Reason (optional)").fill("wrong logo");
  await confirm.getByRole("button", { name: "Revert" }).click();
  await expect(page.getByTestId("reverted")).toBeVisible();
  await expect(page.getByTestId("event")).toHaveCount(3);
  await expect(page.getByTestId("event").first()).toContainText("wrong logo");
  await screenshots(page, "audit-tenant-admin");

  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:mercy_hospital")}`);
  await expect(logo.getByTestId("effective")).toHaveText("https://cdn.example/logo-1.png");

  // A time range in the future matches nothing; the exports follow the filters.
  await page.goto(`${demoURL}/audit?since=2999-01-01T00:00`);
  await expect(page.getByTestId("no-events")).toBeVisible();
  await page.goto(`${demoURL}/audit?key=branding.logo&level=tenant`);
  const csvHref = await page.getByRole("link", { name: "Export CSV" }).getAttribute("href");
  const csv = await page.request.get(`${demoURL}${csvHref}`);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  const lines = (await csv.text()).trim().split("\n");
  expect(lines[0]).toBe("id,at,actor,action,level,scope,key,old_value,new_value,reason,batch_id");
  expect(lines.length).toBe(4);
});

test("a super admin sees the chain's integrity", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/audit`);
  await expect(page.getByTestId("integrity")).toContainText("Chain intact");
  await expect(page.getByTestId("event").first()).toBeVisible();
});

test("a department admin sees their department's changes, not another's, and reverts one", async ({ page, browser }) => {
  const medical = `${demoURL}/configuration?scope=${encodeURIComponent("department:mercy_hospital/medical")}`;
  const marketing = `${demoURL}/configuration?scope=${encodeURIComponent("department:mercy_hospital/marketing")}`;
  const hour = (p: typeof page) => p.locator('[data-testid="key-row"][data-key="notifications.digest_hour"]');

  // A change in another department, made by a super admin.
  const rootContext = await browser.newContext();
  const root = await rootContext.newPage();
  await signInAs(root, demoURL, "root", DEMO_PASSWORD);
  await root.goto(marketing);
  await waitForHydration(root);
  await hour(root).getByLabel("Value").fill("6");
  await hour(root).getByRole("button", { name: "Save" }).click();
  await expect(hour(root).getByTestId("state")).toHaveText("Set here");
  await root.goto(`${demoURL}/audit?key=notifications.digest_hour`);
  await expect(root.getByTestId("event").filter({ hasText: "marketing" })).toHaveCount(1);
  await rootContext.close();

  await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
  await page.goto(medical);
  await waitForHydration(page);
  for (const value of ["9", "10"]) {
    await hour(page).getByLabel("Value").fill(value);
    await hour(page).getByRole("button", { name: "Save" }).click();
    await expect(hour(page).getByTestId("effective")).toHaveText(value);
  }

  await page.goto(`${demoURL}/audit?key=notifications.digest_hour`);
  await waitForHydration(page);
  await expect(page.getByTestId("integrity")).toHaveCount(0);
  // Their two changes at the department (and their users' changes); the marketing one is not
  // theirs to see.
  const atMedical = page.getByTestId("event").filter({ hasText: "department mercy_hospital/medical" });
  await expect(atMedical).toHaveCount(2);
  await expect(page.getByTestId("event").filter({ hasText: "marketing" })).toHaveCount(0);
  const newest = page.getByTestId("event").first();
  await expect(newest).toContainText("department mercy_hospital/medical");
  await expect(newest.getByTestId("diff")).toContainText("9");
  await expect(newest.getByTestId("diff")).toContainText("10");

  await newest.getByTestId("revert").click();
  await waitForHydration(page);
  await expect(page.getByTestId("confirm")).toContainText("back to");
  await page.getByTestId("confirm").getByRole("button", { name: "Revert" }).click();
  await expect(page.getByTestId("reverted")).toBeVisible();
  await expect(atMedical).toHaveCount(3);
  await screenshots(page, "audit-department-admin");

  await page.goto(medical);
  await expect(hour(page).getByTestId("effective")).toHaveText("9");
});
