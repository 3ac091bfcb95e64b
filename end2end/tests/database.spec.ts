import { test, expect, signIn, waitForHydration } from "./fixtures";

test("checking the database is a server-function round trip to the database", async ({ page }) => {
  await signIn(page);
  const status = page.getByTestId("database-status");
  await expect(status).toContainText("SQLite");
  await waitForHydration(page);
  const clock = page.getByTestId("database-time");
  const before = await clock.textContent();

  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/fn/check_database")),
    page.getByRole("button", { name: "Check database" }).click(),
  ]);
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.backend).toBe("SQLite");
  expect(body.latest_migration).toMatch(/^m\d{8}_\d{6}_\w+$/);
  expect(body.applied_migrations).toBeGreaterThan(0);

  // The page shows what the database just said, including its own (newer) clock.
  await expect(page.getByTestId("latest-migration")).toHaveText(body.latest_migration);
  await expect(clock).toHaveText(body.database_time);
  expect(body.database_time).not.toBe(before);
});
