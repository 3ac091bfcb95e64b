import { test, expect, signIn } from "./fixtures";

test.use({ viewport: { width: 390, height: 844 } });

test("the menu button opens the navigation only once the page has hydrated", async ({ page }) => {
  await signIn(page);
  await page.reload();
  const toggle = page.getByRole("button", { name: "Menu" });
  const nav = page.getByRole("navigation", { name: "Sections" });
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await expect(nav).toBeHidden();

  // The server-rendered button has no handler; it reacts when the wasm has attached one.
  await expect(async () => {
    await toggle.click();
    await expect(toggle).toHaveAttribute("aria-expanded", "true", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(nav).toBeVisible();

  // Choosing a section closes the menu again.
  await nav.getByRole("link", { name: "Audit", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Audit");
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await expect(nav).toBeHidden();
});
