import { test, expect, signIn, waitForHydration, refusedWith } from "./fixtures";
import { shortSessionsURL } from "../playwright.config";

// Against the server whose sessions end after 5 idle seconds. In order: the throttling test
// locks this address out of that server.
test.describe.configure({ mode: "serial" });
test.use({ allowedErrors: refusedWith(401, 429) });

test("an idle session expires and the console asks to sign in again", async ({ page }) => {
  await signIn(page, shortSessionsURL);
  await page.waitForTimeout(6_500);
  await page.goto(`${shortSessionsURL}/configuration`);
  await expect(page).toHaveURL(/\/login$/);
});

test("after five failed sign-ins the address must wait", async ({ page }) => {
  await page.goto(`${shortSessionsURL}/login`);
  await waitForHydration(page);
  const attempt = async (password: string) => {
    await page.getByLabel("User name").fill("admin");
    await page.getByLabel("Password").fill(password);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/fn/login")),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    return response.status();
  };
  for (let i = 0; i < 5; i++) {
    expect(await attempt("wrong password " + i)).toBe(401);
  }
  expect(await attempt("e2e-admin-password")).toBe(429);
  await expect(page.getByRole("alert")).toContainText("too many failed sign-ins");
});
