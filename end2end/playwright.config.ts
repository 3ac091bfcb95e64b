import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The release binary and built site come from `make e2e`; each run gets a fresh database.
const strata = process.env.STRATA_BIN;
const siteRoot = process.env.STRATA_SITE_ROOT;
if (!strata || !siteRoot) {
  throw new Error("run the browser tests through `make e2e` (STRATA_BIN and STRATA_SITE_ROOT)");
}
const port = Number(process.env.STRATA_E2E_PORT ?? 3917);
const baseURL = `http://127.0.0.1:${port}`;
// A second server with 5-second idle sessions, for the expiry and throttling tests (which
// would otherwise lock the address out of the main server).
export const shortSessionsURL = `http://127.0.0.1:${port + 1}`;

// A third server holding the demo organisation, whose admins sign in with DEMO_PASSWORD.
export const demoURL = `http://127.0.0.1:${port + 2}`;
export const DEMO_PASSWORD = "e2e-demo-password";
// Admins of each kind, and two ordinary users (My settings).
const DEMO_ACCOUNTS = ["root", "mercy_admin", "medical_head", "dr_grey", "nurse_joy"];

function server(
  name: string,
  serverPort: number,
  extra: Record<string, string> = {},
  prepare = "",
) {
  const dataDir = mkdtempSync(join(tmpdir(), `strata-e2e-${name}-`));
  return {
    command: `${prepare}exec "${strata}" serve --addr 127.0.0.1:${serverPort}`,
    // Ready means the database answers, not just that the port is open.
    url: `http://127.0.0.1:${serverPort}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    env: {
      STRATA_SITE_ROOT: siteRoot!,
      STRATA_DATABASE_URL: `sqlite://${join(dataDir, "strata.db")}?mode=rwc`,
      STRATA_DATA_DIR: dataDir,
      STRATA_ADMIN_PASSWORD: "e2e-admin-password",
      STRATA_LOG: "warn",
      ...extra,
    },
  };
}

export default defineConfig({
  testDir: "./tests",
  outputDir: "./output/test-results",
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  timeout: 30_000,
  use: {
    baseURL,
    browserName: "chromium",
    launchOptions: {
      // Debian's Chromium; never a downloaded browser.
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    trace: "off",
    screenshot: "only-on-failure",
  },
  webServer: [
    server("main", port),
    server("short", port + 1, { STRATA_SESSION_IDLE_SECONDS: "5" }),
    server(
      "demo",
      port + 2,
      {},
      `"${strata}" demo && ` +
        DEMO_ACCOUNTS.map(
          (user) =>
            `printf '%s' '${DEMO_PASSWORD}' | "${strata}" admin set-password ${user} --password-stdin && `,
        ).join(""),
    ),
  ],
});
