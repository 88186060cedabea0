/** Shared test helpers: real loopback servers, descriptor counts, temp dirs. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { SocketError } from "../src/index.js";

const here = fileURLToPath(new URL(".", import.meta.url));
/** test/fixtures in the source tree (dist/test/.. → ../../test/fixtures). */
export const fixturesDir = join(here, "..", "..", "test", "fixtures");

/** Open descriptors of this process. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "sockurl-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A listener on `host` whose accept queue is full, so connects to it stall (never answer).
 * Made by a tiny python script because Node always accepts at once.
 */
export async function stalledListener(host: string, seconds = 30): Promise<{ port: number; close: () => void }> {
  const child: ChildProcess = spawn("python3", [join(fixturesDir, "stalled-listener.py"), host, String(seconds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`stalled-listener exited with ${code}`)));
    child.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim())));
  });
  child.removeAllListeners("exit");
  // Give the filler connection time to occupy the queue.
  await new Promise((r) => setTimeout(r, 50));
  return { port, close: () => child.kill() };
}

/** Asserts that `promise` rejects with a SocketError carrying `code` (and optional fields). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  fields: { phase?: string; message?: RegExp; reason?: string } = {},
): Promise<SocketError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof SocketError, `expected a SocketError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (fields.phase) assert.equal(error.phase, fields.phase, error.message);
  if (fields.message) assert.match(error.message, fields.message);
  if (fields.reason) assert.equal(error.reason, fields.reason);
  return error;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
