import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Reader } from "../src/reader.js";
import { SocketError } from "../src/errors.js";

const LABEL = "tcp://[::1]:7000";
const LF = 0x0a;
const CR = 0x0d;

// ------------------------------------------------------------------ the oracle

/** What one call answered: a value, "wait" (undefined) or an error code. */
type Outcome = { wait: true } | { value: string | null } | { error: string };

/**
 * The reference model: the same reads over one contiguous Buffer, written for clarity, not
 * speed. `all` holds every byte the test will ever push; `pushed` says how many have been.
 */
class Model {
  pos = 0;
  pushed = 0;
  ended = false;

  constructor(readonly all: Buffer) {}

  get length(): number {
    return this.pushed - this.pos;
  }

  get data(): Buffer {
    return this.all.subarray(this.pos, this.pushed);
  }

  #consume(n: number): Buffer {
    const out = this.all.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** take() may answer with fewer bytes than max: the caller checks the reader's answer. */
  take(max: number, got: Buffer | null | undefined): Outcome {
    if (this.length === 0) return this.ended ? { value: null } : { wait: true };
    assert.ok(got instanceof Buffer, `take(${max}) with ${this.length} bytes buffered gave ${String(got)}`);
    assert.ok(got.length >= 1 && got.length <= Math.min(max, this.length), `take(${max}) gave ${got.length} bytes`);
    return { value: hex(this.#consume(got.length)) };
  }

  takeExactly(n: number): Outcome {
    if (this.length >= n) return { value: hex(this.#consume(n)) };
    if (!this.ended) return { wait: true };
    return this.length === 0 ? { value: null } : { error: "ERR_UNEXPECTED_EOF" };
  }

  takeLine(max: number): Outcome {
    const data = this.data;
    const lf = data.indexOf(LF);
    if (lf !== -1) {
      const end = lf > 0 && data[lf - 1] === CR ? lf - 1 : lf;
      if (end > max) return { error: "ERR_LINE_TOO_LONG" };
      return { value: this.#consume(lf + 1).toString("utf8", 0, end) };
    }
    if (data.length === 0) return this.ended ? { value: null } : { wait: true };
    if (this.ended) {
      if (data.length > max) return { error: "ERR_LINE_TOO_LONG" };
      return { value: this.#consume(data.length).toString("utf8") };
    }
    // The shortest the line can still turn out to be: all of it, less a CR that may start a CRLF.
    const shortest = data[data.length - 1] === CR ? data.length - 1 : data.length;
    return shortest > max ? { error: "ERR_LINE_TOO_LONG" } : { wait: true };
  }

  takeUntil(delim: Buffer, max: number): Outcome {
    const data = this.data;
    const at = data.indexOf(delim);
    if (at !== -1) {
      if (at > max) return { error: "ERR_LINE_TOO_LONG" };
      const record = this.#consume(at + delim.length);
      return { value: hex(record.subarray(0, at)) };
    }
    // The earliest a delimiter can still begin: where the buffered tail is a prefix of it.
    let earliest = data.length;
    for (let q = Math.max(0, data.length - delim.length + 1); q < data.length; q++) {
      if (data.subarray(q).equals(delim.subarray(0, data.length - q))) {
        earliest = q;
        break;
      }
    }
    if (earliest > max) return { error: "ERR_LINE_TOO_LONG" };
    if (!this.ended) return { wait: true };
    return data.length === 0 ? { value: null } : { error: "ERR_UNEXPECTED_EOF" };
  }
}

function hex(b: Buffer): string {
  return `0x${b.toString("hex")}`;
}

// ------------------------------------------------------------------ the driver

type Op =
  | { op: "push"; chunks: number }
  | { op: "take"; max: number | undefined }
  | { op: "takeExactly"; n: number }
  | { op: "takeLine"; max: number | undefined }
  | { op: "takeUntil"; delim: number[]; max: number | undefined };

const DEFAULT_MAX = 8 * 1024;

function split(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function outcomeOf(fn: () => Buffer | string | null | undefined): Outcome {
  try {
    const v = fn();
    if (v === undefined) return { wait: true };
    if (v === null || typeof v === "string") return { value: v };
    return { value: hex(v) };
  } catch (err) {
    assert.ok(err instanceof SocketError, `threw ${String(err)}`);
    assert.equal(err.phase, "read");
    assert.equal(err.address, LABEL);
    assert.ok(err.message.includes(LABEL), err.message);
    return { error: err.code };
  }
}

/**
 * Runs `program` against a Reader fed `data` in chunks of `sizes` and against the model,
 * comparing every answer (including "wait"), and returns the transcript of final answers.
 * A read that waits gets more chunks (and finally end of stream) and is asked again.
 */
function run(data: Buffer, sizes: number[], program: Op[]): Outcome[] {
  const chunks = split(data, sizes);
  const reader = new Reader(LABEL);
  const model = new Model(data);
  let next = 0;
  let pushedBytes = 0;

  const feed = (): boolean => {
    if (next < chunks.length) {
      const c = chunks[next++]!;
      reader.push(Buffer.from(c)); // a fresh Buffer, as a socket delivers
      model.pushed += c.length;
      pushedBytes += c.length;
      return true;
    }
    if (!model.ended) {
      reader.end();
      model.ended = true;
      return true;
    }
    return false;
  };
  // Feeds at least one chunk, and more once much is buffered, so that the (simple,
  // rescanning) model stays fast on long records.
  const feedMore = (): boolean => {
    const target = pushedBytes + Math.floor(model.length / 8);
    if (!feed()) return false;
    while (pushedBytes < target && next < chunks.length) feed();
    return true;
  };

  const transcript: Outcome[] = [];
  for (const step of program) {
    if (step.op === "push") {
      for (let i = 0; i < step.chunks; i++) feed();
      continue;
    }
    for (;;) {
      let got: Outcome = { wait: true };
      let want: Outcome = { error: "unreachable" };
      switch (step.op) {
        case "take": {
          const max = step.max ?? Infinity;
          let raw: Buffer | null | undefined;
          got = outcomeOf(() => (raw = step.max === undefined ? reader.take() : reader.take(step.max)));
          want = model.take(max, raw);
          break;
        }
        case "takeExactly":
          got = outcomeOf(() => reader.takeExactly(step.n));
          want = model.takeExactly(step.n);
          break;
        case "takeLine":
          got = outcomeOf(() => (step.max === undefined ? reader.takeLine() : reader.takeLine(step.max)));
          want = model.takeLine(step.max ?? DEFAULT_MAX);
          break;
        case "takeUntil": {
          const delim = Buffer.from(step.delim);
          got = outcomeOf(() =>
            step.max === undefined ? reader.takeUntil(delim) : reader.takeUntil(delim, step.max));
          want = model.takeUntil(delim, step.max ?? DEFAULT_MAX);
          break;
        }
      }
      assert.deepEqual(got, want, `${JSON.stringify(step)} with ${model.length} bytes buffered, ended=${model.ended}`);
      assert.equal(reader.length, model.length, "length after the read");
      assert.equal(reader.length, pushedBytes - model.pos, "length is pushed − consumed");
      if (!("wait" in got)) {
        transcript.push(got);
        break;
      }
      assert.ok(feedMore(), `${step.op} asked for more bytes after end of stream`);
    }
  }

  // Whatever is left comes out intact, in order.
  while (feed());
  const rest: Buffer[] = [];
  for (let b = reader.take(); b; b = reader.take()) rest.push(b);
  assert.equal(reader.take(), null);
  assert.deepEqual(Buffer.concat(rest), model.data);
  assert.equal(reader.length, 0);
  return transcript;
}

// ------------------------------------------------------------------ generators

const ALPHABET = [0x61, 0x62, CR, LF, 0x00, 0xff];

/**
 * Chunk sizes from 1 byte to 64 KiB, mostly small so that boundaries fall everywhere;
 * sometimes all tiny, so that one delimiter spans three or more chunks.
 */
const chunkSizes = fc.oneof(
  { weight: 3, arbitrary: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 8 }) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 1024 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 * 1024 }) },
    ),
    { minLength: 1, maxLength: 12 },
  ) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }) },
);

const token = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("a", "b", "\r", "\n", "\r\n", "\0", "aab", "ab", "x\r\n\r\n") },
  { weight: 2, arbitrary: fc.constantFrom("é", "€", "😀", "日本") },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 70 * 1024 }).map((n) => "x".repeat(n)) },
);

const bytes = fc
  .array(token, { maxLength: 40 })
  .map((ts) => Buffer.concat(ts.map((t) => (typeof t === "string" ? Buffer.from(t, "utf8") : t))));

const maxLength = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 16 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 2000 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
);

const delimiter = fc.oneof(
  fc.array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 4 }),
  fc.constantFrom<number[]>([0x61, 0x61, 0x62], [CR, LF, CR, LF], [0], [LF], [0x61, 0x62, 0x61, 0x62]),
);

function opArb(withTake: boolean): fc.Arbitrary<Op> {
  const ops: Array<fc.Arbitrary<Op>> = [
    fc.integer({ min: 0, max: 3 }).map((chunks) => ({ op: "push", chunks }) as const),
    fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 80 * 1024 }))
      .map((n) => ({ op: "takeExactly", n }) as const),
    maxLength.map((max) => ({ op: "takeLine", max }) as const),
    fc.record({ delim: delimiter, max: maxLength }).map(({ delim, max }) => ({ op: "takeUntil", delim, max }) as const),
  ];
  if (withTake) {
    ops.push(
      fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 100_000 }))
        .map((max) => ({ op: "take", max }) as const),
    );
  }
  return fc.oneof(...ops);
}

// ------------------------------------------------------------------ properties

test("any chunking answers every read like the model over one contiguous buffer", () => {
  fc.assert(
    fc.property(bytes, chunkSizes, fc.array(opArb(true), { maxLength: 30 }), (data, sizes, program) => {
      run(data, sizes, program);
    }),
    { numRuns: 1000 },
  );
});

test("without take(), two chunkings of the same bytes give identical transcripts", () => {
  fc.assert(
    fc.property(bytes, chunkSizes, chunkSizes, fc.array(opArb(false), { maxLength: 30 }), (data, a, b, program) => {
      const whole = run(data, [Math.max(1, data.length)], program);
      assert.deepEqual(run(data, a, program), whole);
      assert.deepEqual(run(data, b, program), whole);
    }),
    { numRuns: 400 },
  );
});

test("binary garbage and NUL bytes pass through every read unchanged", () => {
  const garbage = fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u));
  const program = fc.array(
    fc.oneof(
      opArb(true),
      maxLength.map((max): Op => ({ op: "takeUntil", delim: [0], max })),
    ),
    { maxLength: 30 },
  );
  fc.assert(
    fc.property(garbage, chunkSizes, program, (data, sizes, prog) => {
      run(data, sizes, prog);
    }),
    { numRuns: 500 },
  );
});

test("lines at, just under and just over maxLength, with every kind of ending", () => {
  const lines = fc.integer({ min: 0, max: 40 }).chain((max) =>
    fc.record({
      max: fc.constant(max),
      lines: fc.array(
        fc.record({
          size: fc.integer({ min: Math.max(0, max - 1), max: max + 2 }),
          fill: fc.constantFrom(0x61, CR, 0xc3, 0x00),
          end: fc.constantFrom("\n", "\r\n", "\r", "", "\r\r\n"),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    }));
  fc.assert(
    fc.property(lines, chunkSizes, fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 8 }), ({ max, lines }, sizes, skips) => {
      const data = Buffer.concat(lines.map(({ size, fill, end }) =>
        Buffer.concat([Buffer.alloc(size, fill), Buffer.from(end, "latin1")])));
      // Read lines; after each error skip a few bytes with take(), as an application might.
      const program: Op[] = [];
      for (let i = 0; i < lines.length * 2; i++) {
        program.push({ op: "takeLine", max });
        program.push({ op: "take", max: skips[i % Math.max(1, skips.length)] ?? 1 });
      }
      run(data, sizes, program);
    }),
    { numRuns: 800 },
  );
});

test("records at, just under and just over maxLength, with partial delimiters", () => {
  const records = fc.record({
    max: fc.integer({ min: 0, max: 24 }),
    delim: fc.constantFrom("<>", "aab", "\r\n\r\n", "|", "abab"),
  }).chain(({ max, delim }) =>
    fc.record({
      max: fc.constant(max),
      delim: fc.constant(delim),
      records: fc.array(
        fc.record({
          size: fc.integer({ min: Math.max(0, max - 2), max: max + 2 }),
          fill: fc.constantFrom("a", "b", "<", "x", "\r"),
          // the whole delimiter, a prefix of it (a false start), or nothing
          end: fc.integer({ min: 0, max: delim.length }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    }));
  fc.assert(
    fc.property(records, chunkSizes, ({ max, delim, records }, sizes) => {
      const data = Buffer.from(records.map(({ size, fill, end }) => fill.repeat(size) + delim.slice(0, end)).join(""), "latin1");
      const program: Op[] = [];
      for (let i = 0; i < records.length * 2; i++) {
        program.push({ op: "takeUntil", delim: [...Buffer.from(delim, "latin1")], max });
        program.push({ op: "take", max: 1 + (i % 3) });
      }
      run(data, sizes, program);
    }),
    { numRuns: 800 },
  );
});
