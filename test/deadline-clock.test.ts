/**
 * The shared deadline timer: order, cancellation, items scheduled while it fires, and that it
 * holds the process open exactly while a deadline is pending (checked in child processes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { schedule, unschedule, type Expiring } from "../src/deadline-clock.js";
import { sleep, until } from "./helpers.js";

const clockUrl = pathToFileURL(fileURLToPath(new URL("../src/deadline-clock.js", import.meta.url))).href;

/** An item that records when (ms after `start`) it timed out, into `log`. */
function item(name: string, ms: number, start: number, log: Array<[string, number]>, then?: () => void): Expiring {
  return {
    expiresAt: start + ms,
    timedOut: () => {
      log.push([name, performance.now() - start]);
      then?.();
    },
  };
}

test("items time out in order of their deadlines, not of scheduling, and never early", { timeout: 30_000 }, async () => {
  const start = performance.now();
  const log: Array<[string, number]> = [];
  schedule(item("late", 120, start, log));
  schedule(item("early", 40, start, log));
  schedule(item("middle", 80, start, log));
  await until(() => log.length === 3, "three items timed out", 20_000);
  assert.deepEqual(log.map(([name]) => name), ["early", "middle", "late"]);
  for (const [name, at] of log) {
    const due = { early: 40, middle: 80, late: 120 }[name]!;
    assert.ok(at >= due, `${name} fired after ${at.toFixed(1)} ms, before its ${due} ms`);
    // Generous: a busy machine delays timers, but fires them (a timer that never fires fails the until() above).
    assert.ok(at < due + 10_000, `${name} fired after ${at.toFixed(1)} ms, long after its ${due} ms`);
  }
});

test("an unscheduled item never times out; unscheduling twice or an unknown item is harmless", { timeout: 30_000 }, async () => {
  const start = performance.now();
  const log: Array<[string, number]> = [];
  const cancelled = item("cancelled", 30, start, log);
  schedule(cancelled);
  schedule(item("kept", 60, start, log));
  unschedule(cancelled);
  unschedule(cancelled);
  unschedule(item("never scheduled", 10, start, log));
  // Items fire in deadline order, so the cancelled one would come before "kept".
  await until(() => log.length >= 1, "the kept item timed out", 20_000);
  await sleep(20);
  assert.deepEqual(log.map(([name]) => name), ["kept"]);
});

test("items found due together (a blocked event loop) still fire in deadline order", { timeout: 30_000 }, async () => {
  const start = performance.now();
  const log: Array<[string, number]> = [];
  schedule(item("second", 40, start, log));
  schedule(item("first", 20, start, log));
  // Hold the event loop past both deadlines, so that one firing of the timer finds both due.
  while (performance.now() - start < 80) { /* busy */ }
  await until(() => log.length === 2, "both items timed out", 20_000);
  assert.deepEqual(log.map(([name]) => name), ["first", "second"]);
});

test("an item due with another that unschedules it in its callback never times out", { timeout: 30_000 }, async () => {
  const start = performance.now();
  const log: Array<[string, number]> = [];
  const victim = item("victim", 40, start, log);
  schedule(victim);
  schedule(item("first", 20, start, log, () => unschedule(victim)));
  schedule(item("kept", 60, start, log));
  while (performance.now() - start < 80) { /* busy: one firing finds all three due */ }
  await until(() => log.length >= 2, "two items timed out", 20_000);
  await sleep(20);
  assert.deepEqual(log.map(([name]) => name), ["first", "kept"]);
});

test("many items scheduled and unscheduled in any order: exactly the ones left time out", { timeout: 30_000 }, async () => {
  const start = performance.now();
  const log: Array<[string, number]> = [];
  const items = Array.from({ length: 200 }, (_, i) => item(`i${i}`, 30 + (i % 7), start, log));
  for (const it of items) schedule(it);
  schedule(items[0]!); // twice: still one entry
  // Take out every item whose index is not a multiple of 10, from both ends towards the middle.
  const out = items.filter((_, i) => i % 10 !== 0);
  for (let lo = 0, hi = out.length - 1; lo <= hi; lo++, hi--) {
    unschedule(out[hi]!);
    if (lo !== hi) unschedule(out[lo]!);
  }
  await until(() => log.length >= 20, "the 20 items left timed out", 20_000);
  await sleep(30);
  assert.deepEqual(log.map(([name]) => name).sort(), items.filter((_, i) => i % 10 === 0).map((_, j) => `i${j * 10}`).sort());
});

test("an item scheduled while the timer fires, earlier than those left, still fires first", { timeout: 30_000 }, async () => {
  const start = performance.now();
  const log: Array<[string, number]> = [];
  schedule(item("first", 30, start, log, () => schedule(item("chained", 60, start, log))));
  schedule(item("last", 150, start, log));
  await until(() => log.length === 3, "three items timed out", 20_000);
  assert.deepEqual(log.map(([name]) => name), ["first", "chained", "last"]);
  const chained = log.find(([name]) => name === "chained")![1];
  assert.ok(chained >= 60 && chained < 10_000, `chained fired after ${chained.toFixed(1)} ms`);
});

/** Runs `body` in a child process with the clock imported; returns its output and run time. */
function child(body: string): { stdout: string; ms: number } {
  const script = `const { schedule, unschedule } = await import(${JSON.stringify(clockUrl)});\n${body}`;
  const start = performance.now();
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 50_000 });
  assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout.trim(), ms: performance.now() - start };
}

test("a pending deadline keeps the process alive until it fires", { timeout: 60_000 }, () => {
  const { stdout } = child(`
    const t0 = performance.now();
    schedule({ expiresAt: t0 + 300, timedOut: () => console.log("fired after " + Math.round(performance.now() - t0)) });
  `);
  assert.match(stdout, /^fired after \d+$/);
  assert.ok(Number(stdout.split(" ").pop()) >= 300, stdout);
});

test("once nothing is pending, the armed timer no longer holds the process open", { timeout: 60_000 }, () => {
  const { stdout, ms } = child(`
    const it = { expiresAt: performance.now() + 60_000, timedOut: () => console.log("fired") };
    schedule(it);
    unschedule(it);
    console.log("done");
  `);
  assert.equal(stdout, "done");
  // Half the cancelled deadline: room for a slow start on a busy machine, and still no 60 s wait.
  assert.ok(ms < 30_000, `the process lingered ${Math.round(ms)} ms for a cancelled 60 s deadline`);
});
