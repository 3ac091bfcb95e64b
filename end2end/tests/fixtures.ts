import { test as base, expect, type Page } from "@playwright/test";

/**
 * Every test fails on any browser console error or uncaught page error: a hydration mismatch
 * or a missing asset shows up there first.
 */
export const test = base.extend<{ page: Page }>({
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
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
