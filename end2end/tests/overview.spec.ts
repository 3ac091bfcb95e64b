import { test, expect, signInAs, screenshots, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

test("the overview counts each visible tenant and charts the changes", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  const cards = page.getByTestId("tenant-card");
  await expect(cards).toHaveCount(1);
  const mercy = page.locator('[data-testid="tenant-card"][data-tenant="mercy_hospital"]');
  // The same counts computed from the API's export of what this admin may see (other tests
  // change the demo data too).
  const exported = await (await page.request.get(`${demoURL}/api/v1/export`)).json();
  const tenant = exported.tenants.find((t: { id: string }) => t.id === "mercy_hospital");
  const users = exported.users.filter((u: { tenant?: string }) => u.tenant === "mercy_hospital");
  const userIds = new Set(users.map((u: { id: string }) => u.id));
  const overrides = exported.entries.filter(
    (e: { tenant?: string; user?: string }) => e.tenant === "mercy_hospital" || (e.user && userIds.has(e.user)),
  );
  await expect(mercy.getByTestId("departments")).toHaveText(String(tenant.departments.length));
  await expect(mercy.getByTestId("groups")).toHaveText(String(tenant.groups.length));
  await expect(mercy.getByTestId("users")).toHaveText(String(users.length));
  await expect(mercy.getByTestId("overrides")).toHaveText(String(overrides.length));
  expect(users.length).toBeGreaterThanOrEqual(14);

  const bars = page.getByTestId("changes-chart").locator("rect");
  await expect(bars).toHaveCount(30);
  const today = new Date().toISOString().slice(0, 10);
  const todays = page.locator(`[data-testid="changes-chart"] rect[data-day="${today}"]`);
  expect(Number(await todays.getAttribute("data-count"))).toBeGreaterThan(0);
  await expect(page.getByTestId("latest").locator("li").first()).toBeVisible();
  await screenshots(page, "overview-tenant-admin");
});

test("a department admin's overview shows only their part of the tenant", async ({ page }) => {
  await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
  const mercy = page.locator('[data-testid="tenant-card"][data-tenant="mercy_hospital"]');
  await expect(mercy.getByTestId("departments")).toHaveText("1");
  await expect(page.locator('[data-testid="tenant-card"][data-tenant="general_hospital"]')).toHaveCount(0);
});

test("a super admin's overview shows every tenant, and a new override counts after a reload", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  const exported = await (await page.request.get(`${demoURL}/api/v1/export`)).json();
  await expect(page.getByTestId("tenant-card")).toHaveCount(exported.tenants.length);
  const general = page.locator('[data-testid="tenant-card"][data-tenant="general_hospital"]');
  const before = Number(await general.getByTestId("overrides").textContent());
  const setAlready = exported.entries.some(
    (e: { tenant?: string; level: string; key: string }) =>
      e.level === "tenant" && e.tenant === "general_hospital" && e.key === "notifications.digest_hour",
  );
  expect(setAlready).toBe(false);

  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:general_hospital")}`);
  await waitForHydration(page);
  const hour = page.locator('[data-testid="key-row"][data-key="notifications.digest_hour"]');
  await hour.getByLabel("Value").fill("7");
  await hour.getByRole("button", { name: "Save" }).click();
  await expect(hour.getByTestId("state")).toHaveText("Set here");

  await page.goto(`${demoURL}/`);
  await page.reload();
  await expect(general.getByTestId("overrides")).toHaveText(String(before + 1));
  await expect(page.getByTestId("latest").locator("li").first()).toContainText("notifications.digest_hour");
  await screenshots(page, "overview-super-admin");
});
