import { test, expect, signInAs, screenshots, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";
import type { Page } from "@playwright/test";

const MEDICAL = "department:mercy_hospital/medical";

function row(page: Page, key: string) {
  return page.locator(`[data-testid="key-row"][data-key="${key}"]`);
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
}

// The policy this test sets would turn every later department-level save on the shared demo
// server into a proposal: it is cleared whatever happens.
test.afterAll(async ({ playwright }) => {
  const api = await playwright.request.newContext({ baseURL: demoURL });
  const session = await api.post("/api/v1/session", { data: { username: "root", password: DEMO_PASSWORD } });
  expect(session.ok()).toBeTruthy();
  const cleared = await api.put("/api/v1/approval-policy", { data: { rules: [] } });
  expect(cleared.ok()).toBeTruthy();
  await api.dispose();
});

test("a department admin proposes a change, a tenant admin approves it, and it applies", async ({ page }) => {
  // A super admin makes department-level changes in the tenant need one approval.
  await signInAs(page, demoURL, "root", DEMO_PASSWORD);
  await page.goto(`${demoURL}/changes`);
  await waitForHydration(page);
  const policy = page.getByTestId("approval-policy");
  await policy.getByLabel("Level").selectOption("department");
  await policy.getByLabel("Tenant (optional)").fill("mercy_hospital");
  await policy.getByRole("button", { name: "Add rule" }).click();
  await expect(policy.getByTestId("rule")).toHaveText(/department-level changes in tenant mercy_hospital need 1 approval/);
  await signOut(page);

  // The department admin's editor offers "Propose change" instead of Save.
  await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent(MEDICAL)}`);
  await waitForHydration(page);
  const cover = row(page, "fax.cover_page.enabled");
  await expect(cover.getByTestId("needs-approval")).toContainText("need 1 approval");
  await expect(cover.getByRole("button", { name: "Save" })).toHaveCount(0);
  await expect(cover.getByTestId("effective")).toHaveText("false");
  await cover.getByLabel("On", { exact: true }).check();
  // Whom it affects shows before anything is proposed.
  await expect(cover.getByTestId("impact-reach")).toContainText(/^Saving this changes the effective value for \d+ users?/);
  await cover.getByLabel("Reason (optional)").fill("fax recipients asked");
  await cover.getByRole("button", { name: "Propose change" }).click();

  await expect(page).toHaveURL(/\/changes\?id=\d+/);
  const request = page.getByTestId("change-request");
  const state = request.getByTestId("change-state");
  await expect(state).toHaveText("In review");
  await expect(request.getByTestId("op-proposed")).toHaveText("true");
  await expect(request.getByTestId("op-base")).toContainText("false");
  await expect(request.getByTestId("impact-reach")).toContainText(/^Applying it changes the effective value for \d+ users?/);
  await expect(request.getByTestId("change-approvals")).toContainText("0 of 1 approval");
  // Nobody approves their own request.
  await expect(request.getByTestId("action-approve")).toHaveCount(0);
  await expect(request.getByTestId("action-apply")).toHaveCount(0);
  await screenshots(page, "change-request");
  const address = page.url();
  // Nothing is written yet.
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent(MEDICAL)}`);
  await expect(row(page, "fax.cover_page.enabled").getByTestId("effective")).toHaveText("false");
  await signOut(page);

  // The tenant admin finds it awaiting review, approves and applies it.
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await page.goto(`${demoURL}/changes`);
  await waitForHydration(page);
  const waiting = page.getByTestId("to-review").getByTestId("change").filter({ hasText: "fax.cover_page.enabled" });
  await expect(waiting).toHaveCount(1);
  await screenshots(page, "changes");
  await waiting.getByRole("link").click();
  await expect(page).toHaveURL(address);
  await waitForHydration(page);
  await request.getByLabel(/^Comment/).fill("fine by me");
  await request.getByTestId("action-approve").click();
  await expect(state).toHaveText("Approved");
  await expect(request.getByTestId("change-approvals")).toContainText("approved by mercy_admin");
  await expect(request.getByTestId("change-history")).toContainText("fine by me");
  await request.getByTestId("action-apply").click();
  await expect(state).toHaveText("Applied");

  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent(MEDICAL)}`);
  await waitForHydration(page);
  const applied = row(page, "fax.cover_page.enabled");
  await expect(applied.getByTestId("effective")).toHaveText("true");
  await applied.getByText("Inheritance chain").click();
  await applied.getByRole("link", { name: "Show recent changes" }).click();
  await expect(page.getByTestId("history")).toContainText("change request");
});

test("without JavaScript a change is proposed, approved and applied with plain forms", async ({ browser, playwright }) => {
  const api = await playwright.request.newContext({ baseURL: demoURL });
  expect((await api.post("/api/v1/session", { data: { username: "root", password: DEMO_PASSWORD } })).ok()).toBeTruthy();
  const rule = { rules: [{ level: "department", tenant: "mercy_hospital", approvals: 1 }] };
  expect((await api.put("/api/v1/approval-policy", { data: rule })).ok()).toBeTruthy();
  await api.dispose();

  async function plainPage(user: string) {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${demoURL}/login`);
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill(DEMO_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByTestId("signed-in-as")).toHaveText(user);
    return { context, page };
  }

  const head = await plainPage("medical_head");
  await head.page.goto(`${demoURL}/configuration?scope=${encodeURIComponent(MEDICAL)}`);
  const prescribing = row(head.page, "features.e_prescribing");
  await prescribing.getByLabel("Off", { exact: true }).check();
  await prescribing.getByRole("button", { name: "Propose change" }).click();
  await expect(head.page).toHaveURL(/\/changes\?id=\d+/);
  await expect(head.page.getByTestId("change-state")).toHaveText("In review");
  const address = head.page.url();
  await head.context.close();

  const admin = await plainPage("mercy_admin");
  await admin.page.goto(address);
  await admin.page.getByTestId("action-approve").click();
  await expect(admin.page).toHaveURL(address);
  await expect(admin.page.getByTestId("change-state")).toHaveText("Approved");
  await admin.page.getByTestId("action-apply").click();
  await expect(admin.page.getByTestId("change-state")).toHaveText("Applied");
  await admin.page.goto(`${demoURL}/configuration?scope=${encodeURIComponent(MEDICAL)}`);
  await expect(row(admin.page, "features.e_prescribing").getByTestId("effective")).toHaveText("false");
  await admin.context.close();
});
