/**
 * A per-blob lock between our processes, so two pulls of one model never write the same
 * `.incomplete` file. An exclusive-create file holding the owner's pid; a lock whose pid no
 * longer runs (kill -9) is taken over. Python's huggingface_hub locks with flock on other
 * files: the two clients do not see each other's locks (docs/hub.md).
 */
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { sleep } from "./retry";

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Runs `fn` holding the lock file `path`; waits (abortably) while a live process holds it. */
export async function withLock<T>(path: string, fn: () => Promise<T>, signal?: AbortSignal, pollMs = 200): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    try {
      const fh = await open(path, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (owner !== process.pid && !alive(owner)) {
        await rm(path, { force: true });
        continue;
      }
      await sleep(pollMs, signal);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
