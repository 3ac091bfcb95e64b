import { test, expect, signIn, waitForHydration, ADMIN_PASSWORD, refusedWith } from "./fixtures";

test("signing in opens the console, and the session survives a reload", async ({ page }) => {
  await page.goto("/audit");
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Overview");
  await page.reload();
  await expect(page.getByTestId("signed-in-as")).toHaveText("admin");
  await page.goto("/audit");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Audit");
});

test.describe("refused sign-ins", () => {
test.use({ allowedErrors: refusedWith(401) });

test("a wrong password is refused without saying whether the account exists", async ({ page }) => {
  await page.goto("/login");
  await waitForHydration(page);
  for (const user of ["admin", "nobody"]) {
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill("not the password");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/fn/login")),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    expect(response.status()).toBe(401);
    await expect(page.getByRole("alert")).toHaveText("the user name or password is not correct");
    await expect(page).toHaveURL(/\/login$/);
  }
  // Correct credentials still work after two failures.
  await signIn(page, "", ADMIN_PASSWORD);
});
});

test("signing out ends the session", async ({ page }) => {
  await signIn(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId("signed-in-as")).toHaveCount(0);
});
