import { test as base, expect, type Page } from "@playwright/test";

/**
 * Every test fails on any browser console error or uncaught page error: a hydration mismatch
 * or a missing asset shows up there first.
 */
export const test = base.extend<{ page: Page; allowedErrors: RegExp | null }>({
  // Errors a test provokes on purpose (a refused sign-in logs its 401), named exactly.
  allowedErrors: [null, { option: true }],
  page: async ({ page, allowedErrors }, use) => {
    const problems: string[] = [];
    page.on("console", (message) => {
      const text = message.text();
      if (message.type() === "error" && !allowedErrors?.test(text)) {
        problems.push(`console error: ${text}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    await use(page);
    expect(problems, "the browser reported errors").toEqual([]);
  },
});

export { expect };

/** Resolves once the wasm has hydrated the page: the layout marks itself from a client effect. */
export async function waitForHydration(page: Page) {
  await expect(page.locator(".console[data-hydrated='true']")).toHaveCount(1);
}

export const ADMIN_PASSWORD = "e2e-admin-password";

/** Signs in as the first super admin and waits for the console. */
export async function signIn(page: Page, base = "", password = ADMIN_PASSWORD) {
  await page.goto(`${base}/login`);
  await waitForHydration(page);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("admin");
}

/** The browser's log line for a refused request with one of `statuses`. */
export function refusedWith(...statuses: number[]): RegExp {
  return new RegExp(`^Failed to load resource: the server responded with a status of (${statuses.join("|")}) `);
}

/** Signs in as `user` of the demo server (see playwright.config.ts) and waits for the console. */
export async function signInAs(page: Page, base: string, user: string, password: string) {
  await page.goto(`${base}/login`);
  await waitForHydration(page);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(user);
}

/** Full-page screenshots for review, under end2end/output (never committed). */
export async function screenshots(page: Page, name: string) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `output/screenshots/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}
