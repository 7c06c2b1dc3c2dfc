/**
 * The browser tests' stage: a real API on a real PostgreSQL (tests/browser_stack.py: a fresh
 * database, dev mode, the demo tenants), the built web app (`next start`), then every
 * e2e/*.test.ts under node's test runner, driving Debian's Chromium through playwright-core.
 * Everything it started is stopped when the tests end.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";

const here = path.dirname(new URL(import.meta.url).pathname);
const web = path.resolve(here, "..");
const root = path.resolve(web, "..");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function waitForLine(child: ChildProcess, prefix: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" within ${timeoutMs} ms`)), timeoutMs);
    child.on("exit", (code) => reject(new Error(`exited with ${code} before "${prefix}"`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      process.stdout.write(`  [stage] ${line}\n`);
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length).trim());
      }
    });
  });
}

async function main(): Promise<number> {
  const [apiPort, webPort] = [await freePort(), await freePort()];
  const webUrl = `http://127.0.0.1:${webPort}`;
  const webhookSecret = randomBytes(24).toString("hex");
  const stage: ChildProcess[] = [];
  const stop = () => stage.forEach((child) => child.exitCode === null && child.kill("SIGTERM"));
  process.on("SIGINT", stop);
  try {
    const api = spawn(path.join(root, ".venv/bin/python"), [path.join(root, "tests/browser_stack.py"), String(apiPort)], {
      cwd: root,
      env: {
        ...process.env,
        CARETRAIL_CORS_ORIGINS: JSON.stringify([webUrl]),
        CARETRAIL_PAYMENT_WEBHOOK_SECRETS: JSON.stringify({ fakepay: webhookSecret }),
        CARETRAIL_LOG_LEVEL: "WARNING",
      },
      stdio: ["pipe", "pipe", "inherit"],
    });
    stage.push(api);
    const apiUrl = await waitForLine(api, "READY ", 180_000);

    const app = spawn(path.join(web, "node_modules/.bin/next"), ["start", "-H", "127.0.0.1", "-p", String(webPort)], {
      cwd: web,
      env: { ...process.env, CARETRAIL_API_URL: apiUrl },
      stdio: ["ignore", "pipe", "inherit"],
    });
    stage.push(app);
    await waitForLine(app, "✓ Ready", 60_000);

    const tests = readdirSync(here)
      .filter((f) => f.endsWith(".test.ts"))
      .sort()
      .map((f) => path.join("e2e", f));
    const runner = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...tests], {
      cwd: web,
      env: { ...process.env, API_URL: apiUrl, WEB_URL: webUrl, WEBHOOK_SECRET: webhookSecret },
      stdio: "inherit",
    });
    return await new Promise<number>((resolve) => runner.on("exit", (code) => resolve(code ?? 1)));
  } finally {
    const api = stage[0];
    if (api && api.exitCode === null) {
      // The stage stops its server and drops its database once its input closes.
      const exited = new Promise((resolve) => api.on("exit", resolve));
      api.stdin?.end();
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    }
    stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
