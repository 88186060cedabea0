/**
 * URL fuzz (issue 6): 1,000,000 generated and mutated targets through parseAddress — each one
 * returns an address that formats and parses back to itself, or throws a SocketError with an
 * address-phase code, nothing else — and parse time that stays linear in the input on
 * adversarial shapes (no catastrophic regex).
 *
 *   npm run build && node --test --test-concurrency=1 dist/test/stress/fuzz-url.test.js
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatAddress, parseAddress, SocketError, type Address, type ParseAddressOptions } from "../../src/index.js";
import { figure } from "./util-faults.js";

const TOTAL = 1_000_000;
const GENERATED = 250_000;
const MUTATED = TOTAL - GENERATED;
const CODES = new Set(["ERR_INVALID_ADDRESS", "ERR_UNKNOWN_TRANSPORT", "ERR_INVALID_OPTION"]);

interface Stats {
  parsed: number;
  codes: Map<string, number>;
  slowestMs: number;
  slowestInput: string;
}

const newStats = (): Stats => ({ parsed: 0, codes: new Map(), slowestMs: 0, slowestInput: "" });

/** One target: a round-tripping address or a SocketError from the address phase. */
function check(target: string, options: ParseAddressOptions | undefined, stats: Stats): void {
  const started = performance.now();
  let address: Address;
  try {
    address = parseAddress(target, options);
  } catch (err) {
    const ms = performance.now() - started;
    if (ms > stats.slowestMs) [stats.slowestMs, stats.slowestInput] = [ms, target];
    if (!(err instanceof SocketError)) {
      assert.fail(`parseAddress(${JSON.stringify(target)}) threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    if (!CODES.has(err.code) || err.phase !== "address") {
      assert.fail(`parseAddress(${JSON.stringify(target)}) threw ${err.code}/${err.phase}: ${err.message}`);
    }
    stats.codes.set(err.code, (stats.codes.get(err.code) ?? 0) + 1);
    return;
  }
  const ms = performance.now() - started;
  if (ms > stats.slowestMs) [stats.slowestMs, stats.slowestInput] = [ms, target];
  stats.parsed++;
  // What parses is canonical after one round: format → parse gives the same address back.
  const url = formatAddress(address);
  let again: Address;
  try {
    again = parseAddress(url);
  } catch (err) {
    assert.fail(`parseAddress(${JSON.stringify(target)}) gave ${url}, which does not parse: ${(err as Error).message}`);
  }
  if (JSON.stringify(again) !== JSON.stringify({ ...address })) {
    assert.fail(`parseAddress(${JSON.stringify(target)}) = ${JSON.stringify(address)}, but its URL ${url} parses to ${JSON.stringify(again)}`);
  }
}

// ------------------------------------------------------------------ generated targets

const piece = fc.oneof(
  fc.constantFrom(
    "tcp://", "udp://", "ssl://", "TLS://", "tlsv1.2://", "tlsv1.3://", "sslv3://", "unix://", "udg://", "http://", "://", "tcp:", "tcp:/",
    "[", "]", ":", "::", "%", "%25", "@", "/", "?", "#", ".", "..", "-", "_", " ", "\t", "\0", "\r\n",
    "0", "1", "00", "80", "443", "65535", "65536", "99999999999999999999", "-1", "+1", "1e3", "0x50",
    "127.0.0.1", "127.1", "0x7f.1", "2130706433", "256.1.1.1", "::1", "fe80::1", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8:9",
    "eth0", "lo", "example", "com", "localhost", "a-", "-a", "_srv", "xn--", "xn--bcher-kva", "bücher", "ＥＸ", "ß",
    "\u200b", "\u00ad", "\ufeff", "\ud800", "\udc00", "😀", "é", "İ", "\u0301",
  ),
  fc.string({ maxLength: 4 }),
  fc.integer({ min: 0, max: 200_000 }).map(String),
);
const grammarTarget = fc.array(piece, { maxLength: 14 }).map((p) => p.join(""));
const generatedTarget = fc.oneof(
  { weight: 5, arbitrary: grammarTarget },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.webUrl().map((u) => u.replace(/^https?:\/\//, "tcp://")) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("tcp", "udp", "tls", "unix"), fc.domain(), fc.integer({ min: -10, max: 70_000 })).map(([t, h, p]) => `${t}://${h}:${p}`) },
  { weight: 1, arbitrary: fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 70_000 })).map(([h, p]) => `[${h}]:${p}`) },
);
const generatedOptions = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: -1, max: 70_000 }).map((port) => ({ port })) },
);

// ------------------------------------------------------------------ mutated targets

/** xorshift32: a fast, seeded generator for the mutation loop. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const VALID = [
  "tcp://example.com:80", "example.com:80", "127.0.0.1:8080", "udp://[::1]:53", "tls://[fe80::1%eth0]:443",
  "tls://[fe80::1%25eth0]:443", "ssl://mail.example.org:465", "tlsv1.3://host.example:8443", "TCP://Example.COM.:1",
  "udp://bücher.example:53", "tcp://xn--bcher-kva.example:80", "tcp://[::ffff:192.0.2.1]:0", "tcp://a_b.example:65535",
  "unix:///tmp/app.sock", "udg:///var/run/x.sock", "unix://relative.sock", "tcp://[2001:db8::42]:5000", "tcp://localhost:25",
];
const ALPHABET = [..."abcxyz019.:-_[]%@/?#+ ", "tcp", "://", "::", "%25", "]:", "[::", "\0", "é", "ß", "\u200b", "\ud800", "xn--", "0x", "65536"];

function mutateUrl(next: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  let s = pick(VALID);
  const edits = 1 + Math.floor(next() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (s.length + 1));
    switch (Math.floor(next() * 9)) {
      case 0: s = s.slice(0, at) + pick(ALPHABET) + s.slice(at); break; // insert
      case 1: s = s.slice(0, at) + s.slice(at + 1 + Math.floor(next() * 3)); break; // delete
      case 2: s = s.slice(0, at) + pick(ALPHABET) + s.slice(at + 1); break; // replace
      case 3: s = s.replace(/:(\d+)$/, `:${"9".repeat(1 + Math.floor(next() * 30))}`); break; // huge port
      case 4: s = s.replace(/(\/\/|^)([^[:/]+)/, (_m, pre: string, host: string) => pre + `${host}.`.repeat(1 + Math.floor(next() * 80)) + host); break; // long host
      case 5: s = s.slice(0, at) + "[".repeat(1 + Math.floor(next() * 3)) + s.slice(at) + "]"; break; // brackets
      case 6: s = s.slice(0, at) + "%".repeat(1 + Math.floor(next() * 4)) + s.slice(at); break; // percent signs
      case 7: s = s.slice(0, at) + s.slice(at, at + 8).repeat(2 + Math.floor(next() * 5)) + s.slice(at + 8); break; // repeat a slice
      default: s = s.toUpperCase(); break;
    }
    // Repeated edits compound (a long host made longer): keep targets within 8 KiB, both ends kept.
    if (s.length > 8192) s = s.slice(0, 4096) + s.slice(-4096);
  }
  return s;
}

describe("URL fuzz: 1,000,000 targets", () => {
  test(`${GENERATED.toLocaleString("en")} generated and ${MUTATED.toLocaleString("en")} mutated targets: an address that round-trips, or a SocketError (phase address)`, { timeout: 240_000 }, (t) => {
    const started = performance.now();
    const gen = newStats();
    fc.assert(
      fc.property(generatedTarget, generatedOptions, (target, options) => check(target, options, gen)),
      { numRuns: GENERATED, seed: 20240601, endOnFailure: true },
    );
    const genMs = performance.now() - started;
    const mut = newStats();
    const next = rng(0x5eed);
    const mutStarted = performance.now();
    let longest = 0;
    for (let i = 0; i < MUTATED; i++) {
      const target = mutateUrl(next);
      longest = Math.max(longest, target.length);
      check(target, i % 16 === 0 ? { port: Math.floor(next() * 70_000) } : undefined, mut);
    }
    const mutMs = performance.now() - mutStarted;
    const show = (s: Stats) => `${s.parsed} parsed, ${[...s.codes].map(([c, n]) => `${c} ${n}`).join(", ")}; slowest call ${s.slowestMs.toFixed(2)} ms (${s.slowestInput.length} chars)`;
    // A single slow call may be a GC pause: time the slowest inputs again, alone (best of 5).
    const retime = (input: string) => {
      let best = Infinity;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        try {
          parseAddress(input);
        } catch {
          // typed, checked above
        }
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const again = Math.max(retime(gen.slowestInput), retime(mut.slowestInput));
    assert.ok(again < 20, `the slowest inputs still take ${again.toFixed(1)} ms alone: ${JSON.stringify(gen.slowestInput.slice(0, 200))} (${gen.slowestInput.length}), ${JSON.stringify(mut.slowestInput.slice(0, 200))} (${mut.slowestInput.length})`);
    figure(t, "URL fuzz", `${TOTAL.toLocaleString("en")} targets in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `generated (${(genMs / 1000).toFixed(1)} s): ${show(gen)}; mutated (${(mutMs / 1000).toFixed(1)} s, up to ${longest} chars): ${show(mut)}; ` +
      `the slowest inputs, timed again alone, take ${again.toFixed(3)} ms; no other exception; every parsed address round-trips`);
  });
});

// ------------------------------------------------------------------ linear time

const SHAPES: Array<[string, (n: number) => string]> = [
  ['"[" × n', (n) => "[".repeat(n)],
  ['":" × n', (n) => ":".repeat(n)],
  ['"a." × n/2', (n) => "a.".repeat(n / 2)],
  ['"%" × n', (n) => "%".repeat(n)],
  ['tcp:// + "[" × n', (n) => `tcp://${"[".repeat(n)}`],
  ['"[" + ":" × n + "]:80"', (n) => `[${":".repeat(n)}]:80`],
  ['"[::1%" + "a" × n + "]:80"', (n) => `[::1%${"a".repeat(n)}]:80`],
  ['"a" × n + ":80"', (n) => `${"a".repeat(n)}:80`],
  ['"1." × n/2 + ":80"', (n) => `${"1.".repeat(n / 2)}:80`],
  ['"1" × n + "a:80"', (n) => `${"1".repeat(n)}a:80`],
  ['"0x" × n/2 + ":80"', (n) => `${"0x".repeat(n / 2)}:80`],
  ['"a:" × n/2', (n) => "a:".repeat(n / 2)],
  ['"1:" × n/2', (n) => "1:".repeat(n / 2)],
  ['"a" × n (scheme-like, no colon)', (n) => "a".repeat(n)],
  ['"a" × n + "://h:1"', (n) => `${"a".repeat(n)}://h:1`],
  ['tcp:// + "a@" × n/2 + "h:80"', (n) => `tcp://${"a@".repeat(n / 2)}h:80`],
  ['"é" × n + ":80"', (n) => `${"é".repeat(n)}:80`],
  ['"-" × n + ":80"', (n) => `${"-".repeat(n)}:80`],
  ['host + ":" + "9" × n', (n) => `h:${"9".repeat(n)}`],
  ['unix:// + "a/" × n/2', (n) => `unix://${"a/".repeat(n / 2)}`],
  ['tcp:// + "%25" × n/3', (n) => `tcp://[::1${"%25".repeat(Math.floor(n / 3))}]:1`],
];
const SIZES = [1_000, 10_000, 100_000, 1_000_000];

/** Fastest time of one parse of `input`, over repetitions filling at least ~40 ms (3 minimum). */
function timeParse(input: string): number {
  let best = Infinity;
  let spent = 0;
  for (let rep = 0; rep < 3 || (spent < 40 && rep < 2000); rep++) {
    const t0 = performance.now();
    try {
      parseAddress(input);
    } catch (err) {
      if (!(err instanceof SocketError)) throw err;
    }
    const dt = performance.now() - t0;
    spent += dt;
    best = Math.min(best, dt);
  }
  return best;
}

describe("URL parse time is linear", () => {
  test(`adversarial shapes of ${SIZES.map((s) => s.toLocaleString("en")).join(", ")} characters: time per character at 1M within 3× of 100k`, { timeout: 120_000 }, (t) => {
    const rows: string[] = [];
    let worst = 0;
    let worstShape = "";
    for (const [name, make] of SHAPES) {
      const perChar = SIZES.map((n) => {
        const input = make(n);
        return (timeParse(input) * 1e6) / input.length; // ns per character
      });
      const ratio = perChar[3]! / perChar[2]!;
      if (ratio > worst) [worst, worstShape] = [ratio, name];
      rows.push(`${name}: ${perChar.map((p) => p.toFixed(1)).join(" / ")} ns/char (1M÷100k ${ratio.toFixed(2)})`);
      t.diagnostic(rows[rows.length - 1]!);
      assert.ok(ratio <= 3, `${name}: ${perChar[3]!.toFixed(1)} ns/char at 1M vs ${perChar[2]!.toFixed(1)} at 100k (×${ratio.toFixed(1)}): superlinear`);
    }
    figure(t, "URL parse linear time", `${SHAPES.length} shapes × 4 sizes; worst 1M÷100k per-char ratio ${worst.toFixed(2)} (${worstShape}); ${rows.join("; ")}`);
  });
});
