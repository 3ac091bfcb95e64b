import type { Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { test, expect, signInAs, waitForHydration } from "./fixtures";
import { demoURL, DEMO_PASSWORD } from "../playwright.config";

const SECTIONS = ["/", "/configuration", "/changes", "/preview", "/audit", "/directory", "/keys", "/templates", "/import", "/me"];
/** The accounts checked, and the pages each has. */
const ACCOUNTS: [string, string, string[]][] = [
  ["root", "a super admin", SECTIONS],
  ["mercy_admin", "a tenant admin", SECTIONS],
  ["medical_head", "a department admin", SECTIONS],
  ["dr_grey", "an ordinary user", ["/me"]],
];

/** Visible form controls that have no accessible name (label, aria-label or aria-labelledby). */
async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const missing: string[] = [];
    for (const el of Array.from(document.querySelectorAll("input, select, textarea, button"))) {
      const control = el as HTMLInputElement;
      if (control.type === "hidden" || !(control.offsetWidth || control.offsetHeight)) continue;
      const labelled =
        (control.labels?.length ?? 0) > 0 ||
        !!control.getAttribute("aria-label") ||
        !!control.getAttribute("aria-labelledby") ||
        (control.tagName === "BUTTON" && control.textContent!.trim() !== "");
      if (!labelled) missing.push(control.outerHTML.slice(0, 120));
    }
    return missing;
  });
}

for (const [user, kind, sections] of ACCOUNTS) {
  test(`every control of every section is labelled, for ${kind}`, async ({ page }) => {
    await signInAs(page, demoURL, user, DEMO_PASSWORD);
    for (const path of sections) {
      await page.goto(`${demoURL}${path}`);
      await waitForHydration(page);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      expect(await unlabelled(page), `unlabelled controls on ${path}`).toEqual([]);
    }
  });
}

/** axe-core's serious and critical WCAG 2.1 A/AA violations on the page, one line each. */
async function axeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")} — ${n.failureSummary?.split("\n").slice(1).join(" ")}`));
}

for (const width of [1280, 390]) {
  test(`axe finds nothing serious on the sign-in page at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${demoURL}/login`);
    await waitForHydration(page);
    expect(await axeViolations(page)).toEqual([]);
  });
  for (const [user, kind, sections] of ACCOUNTS) {
    test(`axe finds nothing serious on any section for ${kind} at ${width} px`, async ({ page }) => {
      await page.setViewportSize({ width, height: 900 });
      await signInAs(page, demoURL, user, DEMO_PASSWORD);
      for (const path of sections) {
        await page.goto(`${demoURL}${path}`);
        await waitForHydration(page);
        await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
        expect(await axeViolations(page), `axe on ${path}`).toEqual([]);
      }
    });
  }
}

test("the keyboard alone skips to the content, shows focus and saves a value", async ({ page }) => {
  await signInAs(page, demoURL, "mercy_admin", DEMO_PASSWORD);
  await page.goto(`${demoURL}/configuration?scope=${encodeURIComponent("tenant:mercy_hospital")}`);
  await waitForHydration(page);

  // The first Tab reaches the skip link; following it puts focus on the main area.
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#main")).toBeFocused();

  // Tabbing on from the main area lands on a control of the page, with a visible focus ring.
  await page.keyboard.press("Tab");
  const ring = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const style = getComputedStyle(el);
    return { inMain: !!el.closest("main"), outline: style.outlineStyle, width: style.outlineWidth };
  });
  expect(ring.inMain).toBe(true);
  expect(ring.outline).not.toBe("none");
  expect(ring.width).not.toBe("0px");

  // Typing a value and pressing Enter submits that key's form.
  const name = page.locator('[data-testid="key-row"][data-key="branding.display_name"]');
  await name.getByLabel("Value").focus();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type("Mercy by keyboard");
  await page.keyboard.press("Enter");
  // Set here, over the global value.
  await expect(name.getByTestId("state")).toHaveText("Overridden");
  await expect(name.getByTestId("effective")).toHaveText("Mercy by keyboard");
  await page.reload();
  await expect(name.getByTestId("effective")).toHaveText("Mercy by keyboard");
});

test("at 390 px the top bar keeps the brand, the account and the menu on one line", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signInAs(page, demoURL, "medical_head", DEMO_PASSWORD);
  const boxes = await Promise.all(
    [page.locator(".brand-name"), page.getByTestId("signed-in-as"), page.getByRole("button", { name: "Sign out" }), page.getByRole("button", { name: "Menu" })].map(
      (l) => l.boundingBox(),
    ),
  );
  for (const box of boxes) {
    expect(box).not.toBeNull();
    // Inside the 56 px bar and the viewport, on a single line.
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(56);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    expect(box!.height).toBeLessThan(40);
  }
  // Left to right, none overlapping the next.
  for (let i = 1; i < boxes.length; i++) {
    expect(boxes[i]!.x).toBeGreaterThanOrEqual(boxes[i - 1]!.x + boxes[i - 1]!.width);
  }
  // No section is wider than the phone.
  for (const path of SECTIONS) {
    await page.goto(`${demoURL}${path}`);
    await waitForHydration(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `horizontal overflow on ${path}`).toBeLessThanOrEqual(0);
  }
});
