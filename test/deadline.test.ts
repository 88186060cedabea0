/**
 * Deadline: one clock for a whole connect, joined with the caller's signal. The steps racing it
 * are told once when time is up; those that finished and unregistered are not.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Deadline } from "../src/deadline.js";
import { SocketError } from "../src/errors.js";
import { sleep, until } from "./helpers.js";

const URL = "tcp://127.0.0.1:9";

test("every registered step is told once when the deadline passes; an unregistered one is not", { timeout: 30_000 }, async () => {
  const deadline = new Deadline(30, undefined, URL);
  const told: string[] = [];
  const first = (e: SocketError) => told.push(`first ${e.code}`);
  const second = (e: SocketError) => told.push(`second ${e.code}`);
  const third = (e: SocketError) => told.push(`third ${e.code}`);
  deadline.onExpire(first);
  deadline.onExpire(second);
  deadline.onExpire(third);
  deadline.offExpire(second);
  deadline.offExpire(second);
  await until(() => deadline.expired !== null, "the deadline passed", 20_000);
  await sleep(10);
  assert.deepEqual(told.sort(), ["first ETIMEDOUT", "third ETIMEDOUT"]);
  assert.equal(deadline.expired!.phase, "connect");
  // Registered after the fact: told at once.
  deadline.onExpire(second);
  assert.deepEqual(told.sort(), ["first ETIMEDOUT", "second ETIMEDOUT", "third ETIMEDOUT"]);
  deadline.clear();
});

test("the first slot freed by offExpire is used again, and a cleared deadline tells nobody", { timeout: 30_000 }, async () => {
  const deadline = new Deadline(30, undefined, URL);
  const told: string[] = [];
  const a = () => told.push("a");
  const b = () => told.push("b");
  deadline.onExpire(a);
  deadline.offExpire(a);
  deadline.onExpire(b);
  deadline.clear();
  await sleep(80);
  assert.deepEqual(told, []);
  assert.equal(deadline.expired, null);
});

test("race() rejects with the phase current at expiry and runs cancel; a step that wins unregisters", { timeout: 30_000 }, async () => {
  const deadline = new Deadline(40, undefined, URL);
  assert.equal(await deadline.race(Promise.resolve("won")), "won");
  deadline.phase = "resolve";
  let cancelled = 0;
  await assert.rejects(deadline.race(new Promise<never>(() => {}), () => cancelled++),
    (err: unknown) => err instanceof SocketError && err.code === "ETIMEDOUT" && err.phase === "resolve");
  assert.equal(cancelled, 1);
  deadline.clear();
});

test("an aborted signal expires the deadline with ERR_ABORTED and the signal's reason as cause", () => {
  const controller = new AbortController();
  const deadline = new Deadline(0, controller.signal, URL);
  let told: SocketError | null = null;
  deadline.onExpire((e) => { told = e; });
  controller.abort(new Error("stop"));
  assert.equal(told!.code, "ERR_ABORTED");
  assert.equal((told!.cause as Error).message, "stop");
  deadline.clear();
});
