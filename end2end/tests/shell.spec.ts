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

/** The bundle a page links to: its stylesheet, script and wasm, with their types. */
async function bundle(request: import("@playwright/test").APIRequestContext): Promise<[string, string][]> {
  const html = await (await request.get("/login")).text();
  const href = (pattern: RegExp) => {
    const found = html.match(pattern);
    expect(found, `${pattern} in the page`).not.toBeNull();
    return found![1];
  };
  return [
    [href(/<link rel="stylesheet" id="strata" href="([^"]+)"/), "text/css"],
    [href(/<link rel="modulepreload" href="([^"]+)"/), "javascript"],
    [href(/<link rel="preload" href="([^"]+)" as="fetch"/), "application/wasm"],
  ];
}

test("the stylesheet, script and wasm are served by content-hashed name, precompressed and cached for good", async ({ request }) => {
  for (const [path, type] of await bundle(request)) {
    expect(path).toMatch(/^\/pkg\/strata\.[0-9a-f]{16}(_bg)?\.(css|js|wasm)$/);
    const response = await request.get(path, { headers: { "accept-encoding": "br" } });
    expect(response.status(), path).toBe(200);
    expect(response.headers()["content-type"], path).toContain(type);
    expect(response.headers()["content-encoding"], path).toBe("br");
    expect(response.headers()["cache-control"], path).toBe("public, max-age=31536000, immutable");
    const gzip = await request.get(path, { headers: { "accept-encoding": "gzip" } });
    expect(gzip.headers()["content-encoding"], path).toBe("gzip");
  }
  const favicon = await request.get("/favicon.svg");
  expect(favicon.status()).toBe(200);
  expect(favicon.headers()["content-type"]).toContain("image/svg+xml");
  // Pages are compressed too, kept only privately and checked again each time.
  const page = await request.get("/login", { headers: { "accept-encoding": "br, gzip" } });
  expect(page.headers()["content-encoding"]).toBe("br");
  expect(page.headers()["cache-control"]).toBe("private, no-cache");
});

test("a repeat visit fetches only the page: the bundle comes from the browser's cache", async ({ page }) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  // Served from the disk cache, or from memory (reported apart, before or after the response).
  const seen = new Map<string, { url: string; cached: boolean; bytes: number }>();
  const fromCache = new Set<string>();
  cdp.on("Network.responseReceived", (e) => {
    seen.set(e.requestId, {
      url: e.response.url,
      cached: e.response.fromDiskCache || e.response.fromPrefetchCache || false,
      bytes: 0,
    });
  });
  cdp.on("Network.requestServedFromCache", (e) => {
    fromCache.add(e.requestId);
  });
  cdp.on("Network.loadingFinished", (e) => {
    const entry = seen.get(e.requestId);
    if (entry) entry.bytes = e.encodedDataLength;
  });
  const visit = async () => {
    seen.clear();
    fromCache.clear();
    await page.goto("/login");
    await waitForHydration(page);
    return [...seen.entries()].map(([id, r]) => ({ ...r, cached: r.cached || fromCache.has(id) }));
  };
  const first = await visit();
  const firstBytes = first.reduce((n, r) => n + r.bytes, 0);
  expect(first.filter((r) => r.url.includes("/pkg/")).length).toBe(3);
  const repeat = await visit();
  const fetched = repeat.filter((r) => !r.cached).map((r) => new URL(r.url).pathname);
  expect(fetched).toContain("/login");
  expect(fetched.filter((path) => path.startsWith("/pkg/"))).toEqual([]);
  const repeatBytes = repeat.filter((r) => !r.cached).reduce((n, r) => n + r.bytes, 0);
  console.log(`page weight: first load ${firstBytes} bytes transferred, repeat load ${repeatBytes} bytes`);
});
