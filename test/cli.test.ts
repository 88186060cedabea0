/**
 * The sockurl command, spawned as built, with real pipes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = `${root}bin/sockurl.js`;
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 30_000 });

test("--version prints the package version", () => {
  const { version } = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string };
  const r = run("--version");
  assert.equal(r.status, 0);
  assert.equal(r.stdout, `sockurl ${version}\n`);
});

test("--help shows usage with examples and exits 0; no arguments shows it and exits 2", () => {
  const help = run("--help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage:/);
  assert.match(help.stdout, /sockurl demo/);
  const bare = run();
  assert.equal(bare.status, 2);
  assert.match(bare.stdout, /Usage:/);
});

test("an unknown command prints one line on stderr with a code and exits 2", () => {
  const r = run("frobnicate");
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /ERR_USAGE/);
});

test("demo talks to loopback servers for every transport and exits 0", () => {
  const r = run("demo");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  for (const t of ["tcp ", "tcp6", "udp ", "unix", "udg "]) assert.match(r.stdout, new RegExp(`^${t}.*\\bok\\b`, "m"));
  assert.doesNotMatch(r.stdout, /FAILED/);
  assert.equal(run("demo", "--help").status, 0);
});
