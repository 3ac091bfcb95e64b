import { test, expect, signInAs, screenshots, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";
import type { Page } from "@playwright/test";

/** The editor's row of `key`. */
function row(page: Page, key: string) {
  return page.locator(`[data-testid="key-row"][data-key="${key}"]`);
}

async function openEditor(page: Page, scope?: string) {
  const query = scope ? `?scope=${encodeURIComponent(scope)}` : "";
  await page.goto(`${demoURL}/configuration${query}`);
  await waitForHydration(page);
  await expect(page.getByTestId("editor-title")).toBeVisible();
}

test("a super admin sets, locks and inspects a tenant value, and it persists", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await openEditor(page);
  await expect(page.getByTestId("editor-title")).toHaveText("the global level");
  for (const level of ["global", "tenant", "department", "group", "user"]) {
    await expect(page.getByTestId(`level-${level}`)).toHaveAttribute("href", /scope=/);
  }

  // Pick the tenant through the level tab and the scope picker.
  await page.getByTestId("level-tenant").click();
  await page.getByLabel("Scope").selectOption("tenant:mercy_hospital");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("editor-title")).toHaveText("tenant mercy_hospital");
  await waitForHydration(page);

  const digest = row(page, "notifications.digest_hour");
  await expect(digest.getByTestId("state")).toHaveText("Inherited from default");
  await digest.getByLabel("Value").fill("7");
  await digest.getByLabel("Reason (optional)").fill("earlier digest");
  await digest.getByRole("button", { name: "Save" }).click();
  await expect(digest.getByTestId("state")).toHaveText("Set here");
  await expect(digest.getByTestId("effective")).toHaveText("7");

  await digest.getByRole("button", { name: "Lock" }).click();
  await expect(digest.getByTestId("locked-here")).toBeVisible();

  // The search box narrows the keys.
  await page.getByLabel("Search keys").fill("digest");
  await expect(row(page, "fax.retry_attempts")).toBeHidden();
  await expect(digest).toBeVisible();

  await page.reload();
  await waitForHydration(page);
  const again = row(page, "notifications.digest_hour");
  await expect(again.getByTestId("effective")).toHaveText("7");
  await expect(again.getByTestId("locked-here")).toBeVisible();
  await again.getByText("Inheritance chain").click();
  const applied = again.locator(".chain-step.applied");
  await expect(applied).toContainText("tenant mercy_hospital");
  await expect(applied).toContainText("locked");
  await expect(again.locator(".chain-step.overridden")).toContainText("default");

  // The key's history at this scope.
  await again.getByRole("link", { name: "Show recent changes" }).click();
  await waitForHydration(page);
  const history = row(page, "notifications.digest_hour").getByTestId("history");
  await expect(history).toContainText("entry.lock");
  await expect(history).toContainText("earlier digest");
  await screenshots(page, "editor-super-admin");
});

test("a tenant admin reads the global level, and a conflict shows the current value", async ({ page, context }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await openEditor(page);
  await expect(page.getByTestId("editor-title")).toHaveText("tenant mercy_hospital");
  await expect(page.getByLabel("Scope").locator("option")).toHaveCount(1);

  // Global: visible, read-only with the reason, its controls disabled.
  await expect(page.getByTestId("level-global")).toContainText("read-only");
  await page.getByTestId("level-global").click();
  await expect(page.getByTestId("read-only")).toContainText("only super admins change the global level");
  const globalRow = row(page, "fax.backend.provider");
  await expect(globalRow.getByTestId("refusal")).toBeVisible();
  await expect(globalRow.getByRole("button", { name: "Save" })).toBeDisabled();

  // Two admins edit the same value: the second sees the first's value and retries.
  await openEditor(page, "tenant:mercy_hospital");
  const other = await context.newPage();
  await openEditor(other, "tenant:mercy_hospital");

  const colour = row(page, "branding.color");
  await colour.getByLabel("Value").fill("#111111");
  await colour.getByRole("button", { name: "Save" }).click();
  await expect(colour.getByTestId("effective")).toHaveText("#111111");

  const stale = row(other, "branding.color");
  await stale.getByLabel("Value").fill("#222222");
  await stale.getByRole("button", { name: "Save" }).click();
  await expect(stale.getByTestId("conflict")).toContainText("#111111");
  await stale.getByRole("button", { name: "Save" }).click();
  await expect(stale.getByTestId("effective")).toHaveText("#222222");
  await other.close();

  await page.reload();
  await waitForHydration(page);
  await expect(row(page, "branding.color").getByTestId("effective")).toHaveText("#222222");
  await expect(row(page, "branding.color").getByTestId("state")).toHaveText("Set here");
  await screenshots(page, "editor-tenant-admin");
});

test("a department admin edits their department and sees the tenant's lock", async ({ page }) => {
    await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
    await openEditor(page);
    await expect(page.getByTestId("editor-title")).toHaveText("department mercy_hospital/medical");
    await expect(page.getByTestId("level-tenant")).toContainText("read-only");

    const size = row(page, "uploads.max_size_mb");
    await expect(size.getByTestId("state")).toHaveText("Locked by tenant mercy_hospital");
    await expect(size.getByTestId("effective")).toHaveText("20");

    const video = row(page, "features.video_visits.enabled");
    await expect(video.getByTestId("state")).toHaveText("Inherited from default");
    await video.getByLabel("On", { exact: true }).check();
    await video.getByRole("button", { name: "Save" }).click();
    await expect(video.getByTestId("state")).toHaveText("Set here");
    await expect(video.getByTestId("effective")).toHaveText("true");

    await page.reload();
    await waitForHydration(page);
    await expect(row(page, "features.video_visits.enabled").getByTestId("effective")).toHaveText("true");

    // Another department is not theirs: the level offers only their own.
    await expect(page.getByLabel("Scope").locator("option")).toHaveCount(1);
    // The tenant level: every control disabled, the reason beside it.
    await page.getByTestId("level-tenant").click();
    await expect(page.getByTestId("editor-title")).toHaveText("tenant mercy_hospital");
    const tenantRow = row(page, "branding.color");
    await expect(tenantRow.getByTestId("refusal")).toContainText("only tenant admins of this tenant change this level");
    await expect(tenantRow.getByRole("button", { name: "Save" })).toBeDisabled();
    await screenshots(page, "editor-department-admin");
});

test("the editor shows whom a value would reach as it is typed, before anything is saved", async ({ page }) => {
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await openEditor(page, "tenant:general_hospital");
  const retries = row(page, "fax.retry_attempts");
  const before = await retries.getByTestId("state").textContent();
  await retries.getByLabel("Value").fill("6");
  // Cardiology keeps its own value, so not every user of the tenant is reached.
  await expect(retries.getByTestId("impact-reach")).toContainText(/for \d+ users? \(general_hospital: \d+\)/);
  await expect(retries.getByTestId("impact").locator("li").first()).toContainText("→ 6");
  await expect(retries.getByTestId("preview-impact")).toHaveCount(0);
  // The value the tenant inherits anyway: nobody changes, and the entry would be redundant.
  const inherited = await retries.getByTestId("effective").textContent();
  await retries.getByLabel("Value").fill(inherited ?? "");
  await expect(retries.getByTestId("impact-reach")).toHaveText("Saving this changes no user's effective value.");
  await expect(retries.getByTestId("impact-redundant")).toContainText("tenant:general_hospital");
  await retries.getByLabel("Value").fill("6");
  await expect(retries.getByTestId("impact-reach")).toContainText("general_hospital");
  // Nothing was saved.
  await expect(retries.getByTestId("state")).toHaveText(before ?? "");
  await screenshots(page, "editor-impact");

  // Locking or removing an entry: its links show whom that would affect, and still save nothing.
  await openEditor(page, "department:general_hospital/cardiology");
  const own = row(page, "fax.retry_attempts");
  await expect(own.getByTestId("state")).toHaveText("Set here");
  await own.getByTestId("impact-remove").click();
  await expect(own.getByTestId("impact-reach")).toContainText(/^Removing it changes the effective value for \d+ users? \(general_hospital: \d+\)/);
  await own.getByTestId("impact-lock").click();
  await expect(own.getByTestId("impact-reach")).toHaveText("Locking it changes no user's effective value.");
  await expect(own.getByTestId("state")).toHaveText("Set here");
});
