/**
 * A real redis-server for tests: a free port on 127.0.0.1, a temp dir, append-only file on
 * (fsync always) so a stop and start keeps the queue, as a production Redis would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, waits for the exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>;
  /** Stops it and removes its dir. */
  dispose(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "timelens-redis-"));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--appendonly",
          "yes",
          "--appendfsync",
          "always",
          "--save",
          "",
          "--maxmemory-policy",
          "noeviction",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      child = c;
      let out = "";
      const onData = (d: Buffer): void => {
        out += String(d);
        if (out.includes("Ready to accept connections")) {
          c.stdout!.off("data", onData);
          c.stdout!.resume();
          resolve();
        }
      };
      c.stdout!.on("data", onData);
      c.stderr!.on("data", (d) => (out += String(d)));
      c.once("error", (e) =>
        reject(new Error(`redis-server could not start (is the Debian package redis-server installed?): ${e.message}`)),
      );
      c.once("exit", (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
    });
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
