/**
 * The sockurl command, spawned as built, with real pipes: version, help, errors, demo.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { bin, killAll, oneLine, root, runCli } from "./cli-helpers.js";
import { closedPort } from "./helpers.js";

const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 30_000 });

after(killAll);

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
  for (const command of ["connect", "listen", "probe", "demo"]) assert.match(help.stdout, new RegExp(`sockurl ${command}`));
  assert.match(help.stdout, /Examples:/);
  const bare = run();
  assert.equal(bare.status, 2);
  assert.match(bare.stdout, /Usage:/);
});

test("every subcommand has help with examples, as `help CMD`, `CMD --help` and `CMD -h`", () => {
  for (const command of ["connect", "listen", "probe", "demo"]) {
    const a = run("help", command);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, new RegExp(`^Usage: sockurl ${command}`));
    assert.match(a.stdout, /\nExamples?:\n( {2}.*\n)* {2}(npx )?sockurl /);
    assert.equal(run(command, "--help").stdout, a.stdout);
    assert.equal(run(command, "-h").stdout, a.stdout);
  }
  const connect = run("help", "connect").stdout;
  for (const flag of ["--starttls", "--timeout", "--ca", "--cert", "--key", "--servername", "--alpn", "--fingerprint", "--insecure", "--crlf", "-v"]) {
    assert.ok(connect.includes(flag), `connect help documents ${flag}`);
  }
  const probe = run("help", "probe").stdout;
  for (const field of ["\"verified\"", "\"timings\"", "\"chain\"", "\"daysLeft\"", "\"transcript\"", "\"verification\""]) {
    assert.ok(probe.includes(field), `probe help documents the JSON field ${field}`);
  }
  const nothing = run("help", "frobnicate");
  assert.equal(nothing.status, 2);
  assert.match(oneLine(nothing.stderr), /^sockurl: ERR_USAGE: /);
});

test("an unknown command prints one line on stderr with a code and exits 2", () => {
  const r = run("frobnicate");
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /ERR_USAGE/);
});

test("usage mistakes: one line `sockurl: ERR_USAGE: … — see: sockurl help CMD`, exit 2", () => {
  const cases: Array<[string[], RegExp]> = [
    [["connect", "--frobnicate", "tcp://127.0.0.1:1"], /unknown option --frobnicate/],
    [["connect"], /connect needs a URL/],
    [["connect", "tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], /unexpected argument/],
    [["connect", "--timeout", "soon", "tcp://127.0.0.1:1"], /--timeout must be a whole number/],
    [["connect", "--timeout"], /--timeout needs a value/],
    [["connect", "--ca", "ca.pem", "tcp://127.0.0.1:1"], /--ca is for TLS/],
    [["connect", "--starttls", "gopher", "tcp://127.0.0.1:1"], /unknown --starttls protocol "gopher"; known: smtp/],
    [["probe", "udp://127.0.0.1:53"], /probe needs a stream URL/],
    [["listen", "--cert", "c.pem", "tcp://127.0.0.1:0"], /--cert is for TLS/],
    [["demo", "extra"], /unexpected argument/],
  ];
  for (const [args, message] of cases) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    const line = oneLine(r.stderr);
    assert.match(line, /^sockurl: ERR_USAGE: /, line);
    assert.match(line, message);
    assert.match(line, new RegExp(` — see: sockurl help ${args[0]}$`));
  }
});

test("an invalid URL is ERR_INVALID_ADDRESS with the URL grammar as the hint, exit 2", () => {
  for (const url of ["tcp://::1:80", "tcp://127.0.0.1", "tcp://host:99999"]) {
    const r = run("connect", url);
    assert.equal(r.status, 2, r.stderr);
    const line = oneLine(r.stderr);
    assert.match(line, /^sockurl: ERR_INVALID_ADDRESS: /);
    assert.match(line, / — URLs look like tcp:\/\/host:port, .*unix:\/\/\/path/);
  }
  assert.match(oneLine(run("connect", "tcp://::1:80").stderr), /tcp:\/\/\[::1\]:80/);
  const unknown = run("probe", "gopher://127.0.0.1:70");
  assert.equal(unknown.status, 2);
  assert.match(oneLine(unknown.stderr), /^sockurl: ERR_UNKNOWN_TRANSPORT: .* — URLs look like/);
});

test("a refused connection is one ECONNREFUSED line with what to do, exit 1 (even while stdin stays open)", { timeout: 20_000 }, async () => {
  const url = `tcp://127.0.0.1:${await closedPort()}`;
  for (const command of ["connect", "probe"]) {
    // connect has started reading stdin by then: it must let go of it to exit.
    const r = await runCli([command, url], { timeoutMs: 10_000, keepStdinOpen: true });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(oneLine(r.stderr), `sockurl: ECONNREFUSED: connect ${url}: connection refused — is the server running? check host and port`);
  }
});

test("a missing unix socket is ENOENT with a hint, exit 1", { timeout: 20_000 }, async () => {
  const r = await runCli(["connect", "unix:///nonexistent/sockurl-test.sock"]);
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /^sockurl: ENOENT: .* — no such socket file; is the server running/);
});

test("demo talks to loopback servers for every transport, tls and starttls included, and exits 0", { timeout: 60_000 }, async () => {
  const r = await runCli(["demo"], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^transport +url +result +protocol +cipher +rtt$/m);
  for (const t of ["tcp ", "tcp6", "udp ", "unix", "udg "]) assert.match(r.stdout, new RegExp(`^${t}.*\\bok\\b`, "m"));
  assert.match(r.stdout, /^tls +tls:\/\/127\.0\.0\.1:\d+ +ok +TLSv1\.[23] +\S+ +[\d.]+ ms$/m);
  assert.match(r.stdout, /^starttls +tcp:\/\/127\.0\.0\.1:\d+ +ok +TLSv1\.[23] +\S+ +[\d.]+ ms$/m);
  assert.match(r.stdout, /^tcp +tcp:\/\/127\.0\.0\.1:\d+ +ok +- +- +[\d.]+ ms$/m);
  assert.doesNotMatch(r.stdout, /FAILED/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, "plain output when piped");
  assert.match(r.stdout, /all 7 transports work/);
  assert.equal(run("demo", "--help").status, 0);
});
