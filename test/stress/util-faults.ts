/**
 * Small helpers shared by the fault, hostile-input and URL-fuzz stress suites: recorders for
 * unhandled rejections and uncaught exceptions, descriptor counts that wait for asynchronous
 * closes to land, bounded waits, raw node:net peers and a figure log for RELIABILITY.md.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { connect, listen, SocketError, type ErrorCode, type Phase } from "../../src/index.js";
import type { Pki } from "../fixtures/pki.js";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/**
 * Waits (at most `ms`) for the descriptor count to come back to `baseline` or below, then
 * returns the final count minus `baseline` (0 when nothing leaked). Closes land a few event-loop
 * turns after the promise that caused them settles, hence the wait.
 */
export async function fdDelta(baseline: number, ms = 10_000): Promise<number> {
  const until = performance.now() + ms;
  for (;;) {
    const now = fdCount();
    if (now <= baseline || performance.now() > until) return now - baseline;
    await sleep(10);
  }
}

/** Process-level escapes seen while a recorder was installed. */
export interface Escapes {
  unhandled: unknown[];
  uncaught: unknown[];
  /** Removes the listeners. */
  dispose(): void;
  /** Fails the test when anything escaped. */
  assertNone(what?: string): void;
}

/**
 * Records `unhandledRejection` and `uncaughtException` (instead of letting them crash the
 * test process), so a scenario can assert that none happened.
 */
export function recordEscapes(): Escapes {
  const unhandled: unknown[] = [];
  const uncaught: unknown[] = [];
  const onRejection = (reason: unknown) => unhandled.push(reason);
  const onException = (err: unknown) => uncaught.push(err);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return {
    unhandled,
    uncaught,
    dispose() {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
    },
    assertNone(what = "scenario") {
      const show = (list: unknown[]) => list.map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))).join("; ");
      assert.equal(unhandled.length, 0, `${what}: unhandled rejections: ${show(unhandled)}`);
      assert.equal(uncaught.length, 0, `${what}: uncaught exceptions: ${show(uncaught)}`);
    },
  };
}

/** Settles like `p`, or rejects when `ms` pass first. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export type Outcome<T> = { ok: true; value: T; ms: number } | { ok: false; error: unknown; ms: number };

/** Observes `p` at once (the test never leaves a rejection unhandled) and times it. */
export function settle<T>(p: Promise<T>): Promise<Outcome<T>> {
  const started = performance.now();
  return p.then(
    (value) => ({ ok: true as const, value, ms: performance.now() - started }),
    (error: unknown) => ({ ok: false as const, error, ms: performance.now() - started }),
  );
}

/**
 * Asserts that `p` rejects (within `ms`) with a SocketError whose code is one of `codes` and,
 * when given, whose phase is one of `phases`. Returns the error and how long it took.
 */
export async function expectSocketError(
  p: Promise<unknown>,
  codes: ErrorCode | readonly ErrorCode[],
  phases?: Phase | readonly Phase[],
  ms = 5_000,
): Promise<{ error: SocketError; ms: number }> {
  const outcome = await within(settle(p), ms, `expected ${String(codes)}`);
  const list: readonly string[] = typeof codes === "string" ? [codes] : codes;
  if (outcome.ok) assert.fail(`expected a rejection with ${list.join(" or ")}, got a value (${describe(outcome.value)})`);
  const err = outcome.error;
  assert.ok(err instanceof SocketError, `expected a SocketError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.ok(list.includes(err.code), `expected ${list.join(" or ")}, got ${err.code}: ${err.message}`);
  if (phases !== undefined) {
    const p2: readonly string[] = typeof phases === "string" ? [phases] : phases;
    assert.ok(p2.includes(err.phase), `expected phase ${p2.join(" or ")}, got ${err.phase}: ${err.message}`);
  }
  return { error: err, ms: outcome.ms };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Buffer.isBuffer(v)) return `a Buffer of ${v.length} bytes`;
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return JSON.stringify(v) ?? String(v);
}

/** Figures measured by the stress suites, printed as test diagnostics and kept for the summary. */
export const figures: Array<{ scenario: string; figure: string }> = [];

/** Records a figure (shown as `# FIGURE scenario: text` in the test output). */
export function figure(t: { diagnostic(message: string): void }, scenario: string, text: string): void {
  figures.push({ scenario, figure: text });
  t.diagnostic(`FIGURE ${scenario}: ${text}`);
}

/** Median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

/**
 * Opens and closes one TLS connection, so that what a process allocates once (TLS, DNS
 * threads, timers) is not counted against the first scenario's descriptor baseline.
 */
export async function warmUp(pki: Pki): Promise<void> {
  const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki.valid.chain, key: pki.valid.key } });
  const accepted = server.accept();
  const client = await connect(server.url, { tls: { ca: pki.caBundle } });
  (await accepted).destroy();
  client.destroy();
  await server.close();
  await sleep(50);
}

/**
 * Runs one scenario under the three guards: escape recorders, a descriptor count before and
 * after (settling for up to `settleMs`), and its duration. `body` returns the figure to report.
 */
export async function guarded(
  t: { diagnostic(message: string): void },
  name: string,
  body: () => Promise<string>,
  settleMs = 10_000,
): Promise<void> {
  const escapes = recordEscapes();
  const before = fdCount();
  const started = performance.now();
  let text: string;
  try {
    text = await body();
  } finally {
    // Let late rejections surface before the recorders are removed.
    await sleep(20);
  }
  const delta = await fdDelta(before, settleMs);
  escapes.dispose();
  escapes.assertNone(name);
  assert.ok(delta <= 0, `${name}: ${delta} descriptor(s) leaked`);
  figure(t, name, `${text}; fd delta ${delta}; ${Math.round(performance.now() - started)} ms`);
}
