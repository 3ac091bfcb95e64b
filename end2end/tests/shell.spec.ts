import { test, expect, signIn, waitForHydration } from "./fixtures";

const sections = ["Overview", "Configuration", "Preview", "Audit", "Directory"];

test("the console shell renders its header and every section", async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveTitle("Overview · Strata");
  await expect(page.getByRole("link", { name: /Strata/ }).first()).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Sections" });
  for (const name of sections) {
    await expect(nav.getByRole("link", { name, exact: true })).toBeVisible();
  }
  await waitForHydration(page);

  // Client-side navigation after hydration: each section shows its own heading and title.
  for (const name of sections) {
    await nav.getByRole("link", { name, exact: true }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
    await expect(page).toHaveTitle(`${name} · Strata`);
    await expect(nav.getByRole("link", { name, exact: true })).toHaveAttribute("aria-current", "page");
  }
});

test("an unknown address answers 404 with the console's page", async ({ page, request }) => {
  const anonymous = await request.get("/no/such/page", { maxRedirects: 0 });
  expect(anonymous.status()).toBe(303);
  expect(anonymous.headers()["location"]).toBe("/login");
  await signIn(page);
  const response = await page.request.get("/no/such/page");
  expect(response.status()).toBe(404);
  expect(await response.text()).toContain("Page not found");
});

test("the stylesheet, script and wasm are served", async ({ request }) => {
  for (const [path, type] of [
    ["/pkg/strata.css", "text/css"],
    ["/pkg/strata.js", "javascript"],
    ["/pkg/strata_bg.wasm", "application/wasm"],
    ["/favicon.svg", "image/svg+xml"],
  ]) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
    expect(response.headers()["content-type"], path).toContain(type);
  }
});
