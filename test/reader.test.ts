import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_LINE, Reader } from "../src/reader.js";
import { SocketError } from "../src/errors.js";

const LABEL = "tcp://127.0.0.1:2525";

/** A Reader holding `parts`, one push per part. */
function readerOf(parts: Array<string | Buffer>, opts: { ended?: boolean; label?: string } = {}): Reader {
  const r = new Reader(opts.label ?? LABEL);
  for (const p of parts) r.push(typeof p === "string" ? Buffer.from(p, "latin1") : p);
  if (opts.ended) r.end();
  return r;
}

function str(b: Buffer | null | undefined): string | null | undefined {
  return b == null ? b : b.toString("latin1");
}

/** Asserts that `fn` throws a SocketError with `code` whose message names the reader's label. */
function throwsCode(fn: () => unknown, code: string, label = LABEL): SocketError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SocketError, `expected a SocketError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.phase, "read");
  assert.equal(caught.address, label);
  assert.ok(caught.message.includes(label), `message names the target: ${caught.message}`);
  assert.ok(caught.message.endsWith(`(${code})`), `message ends with the code: ${caught.message}`);
  return caught;
}

/** Everything still buffered, as latin1 text (drains the reader). */
function drain(r: Reader): string {
  let out = "";
  for (let b = r.take(); b; b = r.take()) out += b.toString("latin1");
  return out;
}

describe("Reader.take", () => {
  test("returns undefined while empty and null once empty at end of stream", () => {
    const r = new Reader(LABEL);
    assert.equal(r.take(), undefined);
    r.end();
    assert.equal(r.ended, true);
    assert.equal(r.take(), null);
    assert.equal(r.take(), null);
  });

  test("hands over a whole pushed chunk without copying it", () => {
    const r = new Reader();
    const a = Buffer.from("hello");
    const b = Buffer.from("world");
    r.push(a);
    r.push(b);
    assert.equal(r.take(), a, "the very same Buffer object");
    assert.equal(r.take(1024), b, "also when max is at least the chunk length");
    assert.equal(r.length, 0);
  });

  test("splits a chunk larger than max and returns the rest on the next call", () => {
    const r = readerOf(["abcdefgh"]);
    assert.equal(str(r.take(3)), "abc");
    assert.equal(r.length, 5);
    assert.equal(str(r.take(3)), "def");
    assert.equal(str(r.take(3)), "gh");
    assert.equal(r.take(3), undefined);
  });

  test("never returns more than max bytes, nor an empty buffer, across chunk boundaries", () => {
    const r = readerOf(["ab", "cd", "ef"]);
    assert.equal(str(r.take(1)), "a");
    const got: string[] = [];
    for (let b = r.take(3); b; b = r.take(3)) {
      assert.ok(b.length >= 1 && b.length <= 3, `length ${b.length}`);
      got.push(str(b)!);
    }
    assert.equal(got.join(""), "bcdef");
  });

  test("still returns buffered bytes after end of stream, then null", () => {
    const r = readerOf(["xy"], { ended: true });
    assert.equal(str(r.take()), "xy");
    assert.equal(r.take(), null);
  });

  test("ignores empty pushes", () => {
    const r = new Reader();
    r.push(Buffer.alloc(0));
    assert.equal(r.length, 0);
    assert.equal(r.take(), undefined);
  });

  test("refuses a max that is not a positive integer without touching the buffer", () => {
    const r = readerOf(["abc"]);
    for (const bad of [0, -1, 1.5, Number.NaN]) throwsCode(() => r.take(bad), "ERR_INVALID_OPTION");
    assert.equal(r.length, 3);
    assert.equal(drain(r), "abc");
  });
});

describe("Reader.takeExactly", () => {
  test("waits until n bytes are buffered, then joins them across chunks", () => {
    const r = readerOf(["ab"]);
    assert.equal(r.takeExactly(5), undefined);
    assert.equal(r.length, 2, "nothing consumed while waiting");
    r.push(Buffer.from("c"));
    r.push(Buffer.from("defg"));
    assert.equal(str(r.takeExactly(5)), "abcde");
    assert.equal(str(r.takeExactly(2)), "fg");
    assert.equal(r.length, 0);
  });

  test("takes zero bytes as an empty buffer, even when empty or ended", () => {
    const r = new Reader();
    assert.deepEqual(r.takeExactly(0), Buffer.alloc(0));
    r.push(Buffer.from("a"));
    assert.deepEqual(r.takeExactly(0), Buffer.alloc(0));
    assert.equal(r.length, 1);
    r.end();
    assert.deepEqual(r.takeExactly(0), Buffer.alloc(0));
  });

  test("a short stream fails with ERR_UNEXPECTED_EOF and the bytes stay takeable", () => {
    const r = readerOf(["ab", "c"], { ended: true });
    const err = throwsCode(() => r.takeExactly(5), "ERR_UNEXPECTED_EOF");
    assert.match(err.message, /3 of 5 bytes/);
    assert.equal(r.length, 3);
    assert.equal(str(r.takeExactly(3)), "abc");
  });

  test("a stream that ends cleanly between frames gives null, as Go's io.EOF; a cut frame gives ERR_UNEXPECTED_EOF", () => {
    const r = readerOf(["abcd"], { ended: true });
    assert.equal(str(r.takeExactly(4)), "abcd");
    assert.equal(r.takeExactly(4), null);
    assert.equal(r.takeExactly(1), null);
    const cut = readerOf(["ab"], { ended: true });
    throwsCode(() => cut.takeExactly(4), "ERR_UNEXPECTED_EOF");
    assert.equal(cut.length, 2, "the partial frame stays buffered");
  });

  test("refuses a negative or fractional count without touching the buffer", () => {
    const r = readerOf(["abc"]);
    for (const bad of [-1, 1.5, Number.NaN]) throwsCode(() => r.takeExactly(bad), "ERR_INVALID_OPTION");
    assert.equal(r.length, 3);
    assert.equal(str(r.takeExactly(3)), "abc");
  });
});

describe("Reader.takeLine", () => {
  test("splits on LF and on CRLF, dropping the terminator", () => {
    const r = readerOf(["one\ntwo\r\nthree\n"]);
    assert.equal(r.takeLine(), "one");
    assert.equal(r.takeLine(), "two");
    assert.equal(r.takeLine(), "three");
    assert.equal(r.takeLine(), undefined);
    assert.equal(r.length, 0);
  });

  test("keeps a CR that is not followed by LF as part of the line", () => {
    const r = readerOf(["a\rb\r\r\nc\r\n"]);
    assert.equal(r.takeLine(), "a\rb\r");
    assert.equal(r.takeLine(), "c");
  });

  test("returns empty lines", () => {
    const r = readerOf(["\n\r\n\nx\n"]);
    assert.equal(r.takeLine(), "");
    assert.equal(r.takeLine(), "");
    assert.equal(r.takeLine(), "");
    assert.equal(r.takeLine(), "x");
  });

  test("drops a CR at the end of one chunk when the LF arrives in the next", () => {
    const r = readerOf(["EHLO\r"]);
    assert.equal(r.takeLine(), undefined);
    r.push(Buffer.from("\nMAIL"));
    assert.equal(r.takeLine(), "EHLO");
    assert.equal(r.takeLine(), undefined);
    assert.equal(r.length, 4);
  });

  test("finds a line end that arrives many chunks later", () => {
    const r = new Reader();
    for (const c of "abcdefghij") {
      r.push(Buffer.from(c));
      assert.equal(r.takeLine(), undefined);
    }
    r.push(Buffer.from("\r"));
    assert.equal(r.takeLine(), undefined);
    r.push(Buffer.from("\n"));
    assert.equal(r.takeLine(), "abcdefghij");
  });

  test("returns an unterminated tail at end of stream, then null", () => {
    const r = readerOf(["last\nno end"]);
    assert.equal(r.takeLine(), "last");
    assert.equal(r.takeLine(), undefined);
    r.end();
    assert.equal(r.takeLine(), "no end");
    assert.equal(r.takeLine(), null);
    assert.equal(r.takeLine(), null);
  });

  test("returns null at end of stream right after a terminated line", () => {
    const r = readerOf(["x\n"], { ended: true });
    assert.equal(r.takeLine(), "x");
    assert.equal(r.takeLine(), null);
  });

  test("decodes UTF-8 characters split across chunks", () => {
    const text = "größe €10 😀 日本";
    const bytes = Buffer.from(`${text}\n`, "utf8");
    const r = new Reader();
    for (const byte of bytes) r.push(Buffer.from([byte]));
    assert.equal(r.takeLine(), text);
  });

  test("counts maxLength in bytes, not characters", () => {
    const r = readerOf([Buffer.from("€€\n", "utf8")]); // 6 bytes of content
    throwsCode(() => r.takeLine(5), "ERR_LINE_TOO_LONG");
    assert.equal(r.takeLine(6), "€€");
  });

  test("accepts a line of exactly maxLength bytes, with LF and with CRLF", () => {
    const line = "x".repeat(10);
    assert.equal(readerOf([`${line}\n`]).takeLine(10), line);
    assert.equal(readerOf([`${line}\r\n`]).takeLine(10), line);
    // Split so that the CR and the LF arrive after the line reached maxLength.
    const r = readerOf([line]);
    assert.equal(r.takeLine(10), undefined);
    r.push(Buffer.from("\r"));
    assert.equal(r.takeLine(10), undefined);
    r.push(Buffer.from("\n"));
    assert.equal(r.takeLine(10), line);
    // And at end of stream, unterminated.
    assert.equal(readerOf([line], { ended: true }).takeLine(10), line);
  });

  test("fails with ERR_LINE_TOO_LONG at maxLength + 1 bytes, whether or not the line end has arrived", () => {
    const long = "y".repeat(11);
    for (const data of [`${long}\n`, `${long}\r\n`, long, `${long}zzz`]) {
      const r = readerOf([data]);
      const err = throwsCode(() => r.takeLine(10), "ERR_LINE_TOO_LONG");
      assert.match(err.message, /no line end within maxLength 10 bytes/);
    }
    // At end of stream, the unterminated tail is too long as well.
    throwsCode(() => readerOf([long], { ended: true }).takeLine(10), "ERR_LINE_TOO_LONG");
  });

  test("a CR at maxLength + 1 may still be a CRLF, so it waits for the next byte", () => {
    const r = readerOf([`${"x".repeat(10)}\r`]);
    assert.equal(r.takeLine(10), undefined);
    r.push(Buffer.from("y"));
    throwsCode(() => r.takeLine(10), "ERR_LINE_TOO_LONG");
  });

  test("after ERR_LINE_TOO_LONG every byte is still there for take()", () => {
    const data = `${"z".repeat(20)}\r\nnext\n`;
    const r = readerOf([data.slice(0, 7), data.slice(7)]);
    throwsCode(() => r.takeLine(10), "ERR_LINE_TOO_LONG");
    throwsCode(() => r.takeLine(10), "ERR_LINE_TOO_LONG"); // and again: nothing moved
    assert.equal(r.length, data.length);
    assert.equal(str(r.takeExactly(20)), "z".repeat(20));
    assert.equal(r.takeLine(10), "");
    assert.equal(r.takeLine(10), "next");
  });

  test("after ERR_LINE_TOO_LONG at end of stream the tail is still there", () => {
    const r = readerOf(["a".repeat(11)], { ended: true });
    throwsCode(() => r.takeLine(10), "ERR_LINE_TOO_LONG");
    assert.equal(r.length, 11);
    assert.equal(r.takeLine(11), "a".repeat(11));
    assert.equal(r.takeLine(11), null);
  });

  test("throws as soon as maxLength + 2 bytes hold no LF, so a Socket stops reading", () => {
    const max = 16;
    const r = new Reader(LABEL);
    // Feed CRs: each one could start a CRLF, the most patient case for the reader.
    for (let i = 0; i < max + 1; i++) {
      r.push(Buffer.from(i === max ? "\r" : "q"));
      assert.equal(r.takeLine(max), undefined, `still waiting at ${r.length} bytes`);
    }
    r.push(Buffer.from("q"));
    assert.equal(r.length, max + 2);
    throwsCode(() => r.takeLine(max), "ERR_LINE_TOO_LONG");
    // Even when the byte that makes maxLength + 2 is itself a CR.
    const cr = readerOf([`${"x".repeat(max)}\r`]);
    assert.equal(cr.takeLine(max), undefined);
    cr.push(Buffer.from("\r"));
    throwsCode(() => cr.takeLine(max), "ERR_LINE_TOO_LONG");
  });

  test("never waits for a LF once the line is known to be too long", () => {
    const r = new Reader(LABEL);
    r.push(Buffer.alloc(DEFAULT_MAX_LINE, 0x61));
    assert.equal(r.takeLine(), undefined, "exactly the default maxLength: may still end");
    r.push(Buffer.from("a"));
    throwsCode(() => r.takeLine(), "ERR_LINE_TOO_LONG");
  });

  test("carries binary and NUL bytes through", () => {
    const r = readerOf([Buffer.from([0, 1, 0xff, 0x0d, 0, 0x0a, 0])]);
    assert.equal(r.takeLine(), Buffer.from([0, 1, 0xff, 0x0d, 0]).toString("utf8"));
    assert.equal(r.length, 1);
  });

  test("refuses a negative or NaN maxLength", () => {
    const r = readerOf(["a\n"]);
    throwsCode(() => r.takeLine(-1), "ERR_INVALID_OPTION");
    throwsCode(() => r.takeLine(Number.NaN), "ERR_INVALID_OPTION");
    assert.equal(r.takeLine(), "a");
  });
});

describe("Reader.takeUntil", () => {
  const NUL = Buffer.from([0]);
  const CRLFCRLF = Buffer.from("\r\n\r\n");

  test("splits on a single-byte delimiter and consumes it", () => {
    const r = readerOf([Buffer.from("a\0\0bc\0")]);
    assert.equal(str(r.takeUntil(NUL)), "a");
    assert.equal(str(r.takeUntil(NUL)), "");
    assert.equal(str(r.takeUntil(NUL)), "bc");
    assert.equal(r.takeUntil(NUL), undefined);
    assert.equal(r.length, 0);
  });

  test("splits on a multi-byte delimiter", () => {
    const r = readerOf(["HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"]);
    assert.equal(str(r.takeUntil(CRLFCRLF)), "HTTP/1.1 200 OK\r\nA: b");
    assert.equal(r.takeUntil(CRLFCRLF), undefined);
    assert.equal(str(r.take()), "body");
  });

  test("finds a delimiter straddling chunk boundaries, whatever the split", () => {
    const data = "head\r\n\r\ntail";
    for (let i = 1; i < data.length; i++) {
      for (let j = i + 1; j <= data.length; j++) {
        const r = readerOf([data.slice(0, i), data.slice(i, j), data.slice(j)].filter((s) => s !== ""));
        assert.equal(str(r.takeUntil(CRLFCRLF)), "head", `split at ${i},${j}`);
        assert.equal(drain(r), "tail");
      }
    }
  });

  test("finds a delimiter spread over one-byte chunks pushed one at a time", () => {
    const r = new Reader();
    const data = "xx\r\n\r\nyy";
    let got: Buffer | null | undefined;
    let i = 0;
    for (; i < data.length && got === undefined; i++) {
      r.push(Buffer.from(data[i]!));
      got = r.takeUntil(CRLFCRLF);
    }
    assert.equal(str(got), "xx");
    assert.equal(i, 6, "returned as soon as the delimiter was complete");
  });

  test("finds overlapping patterns: 'aab' in 'aaab'", () => {
    const aab = Buffer.from("aab");
    assert.equal(str(readerOf(["aaab"]).takeUntil(aab)), "a");
    assert.equal(str(readerOf(["aa", "ab"]).takeUntil(aab)), "a");
    assert.equal(str(readerOf(["a", "a", "a", "b"]).takeUntil(aab)), "a");
    const r = readerOf(["aaa"]);
    assert.equal(r.takeUntil(aab), undefined);
    r.push(Buffer.from("b!"));
    assert.equal(str(r.takeUntil(aab)), "a");
    assert.equal(str(r.take()), "!");
    // A self-overlapping delimiter.
    const abab = Buffer.from("abab");
    assert.equal(str(readerOf(["ababab"]).takeUntil(abab)), "");
    assert.equal(str(readerOf(["xaba", "bab"]).takeUntil(abab)), "x");
  });

  test("switching delimiters does not reuse a stale search position", () => {
    const r = readerOf(["a;b|c"]);
    assert.equal(r.takeUntil(Buffer.from("#")), undefined);
    assert.equal(str(r.takeUntil(Buffer.from("|"))), "a;b");
    r.push(Buffer.from("\nd;"));
    assert.equal(r.takeLine(), "c");
    assert.equal(str(r.takeUntil(Buffer.from(";"))), "d");
  });

  test("a delimiter mutated by the caller after a search is searched afresh", () => {
    const delim = Buffer.from("ab");
    const r = readerOf(["xxa"]);
    assert.equal(r.takeUntil(delim), undefined);
    delim.write("xa");
    assert.equal(str(r.takeUntil(delim)), "x");
  });

  test("accepts a record of exactly maxLength and refuses maxLength + 1", () => {
    assert.equal(str(readerOf(["12345|"]).takeUntil(Buffer.from("|"), 5)), "12345");
    assert.equal(str(readerOf(["12345<>"]).takeUntil(Buffer.from("<>"), 5)), "12345");
    const r = readerOf(["123456<>"]);
    const err = throwsCode(() => r.takeUntil(Buffer.from("<>"), 5), "ERR_LINE_TOO_LONG");
    assert.match(err.message, /no delimiter within maxLength 5 bytes/);
    assert.equal(r.length, 8, "bytes stay buffered");
    assert.equal(str(r.takeUntil(Buffer.from("<>"), 6)), "123456");
  });

  test("refuses a record as soon as no delimiter can start within maxLength", () => {
    const delim = Buffer.from("<>");
    const r = readerOf(["12345<"]);
    assert.equal(r.takeUntil(delim, 5), undefined, "'<' may begin the delimiter");
    r.push(Buffer.from("x"));
    throwsCode(() => r.takeUntil(delim, 5), "ERR_LINE_TOO_LONG");
    throwsCode(() => readerOf(["123456"]).takeUntil(delim, 5), "ERR_LINE_TOO_LONG");
    throwsCode(() => readerOf(["123456"]).takeUntil(Buffer.from("\0"), 5), "ERR_LINE_TOO_LONG");
  });

  test("ends inside a record with ERR_UNEXPECTED_EOF and keeps the bytes", () => {
    const r = readerOf(["rec1\0rec", "2"], { ended: true });
    assert.equal(str(r.takeUntil(NUL)), "rec1");
    const err = throwsCode(() => r.takeUntil(NUL), "ERR_UNEXPECTED_EOF");
    assert.match(err.message, /4 bytes/);
    assert.equal(r.length, 4);
    assert.equal(str(r.take()), "rec2");
    assert.equal(r.takeUntil(NUL), null);
  });

  test("ends inside a multi-byte delimiter with ERR_UNEXPECTED_EOF", () => {
    const r = readerOf(["abc\r\n\r"], { ended: true });
    throwsCode(() => r.takeUntil(CRLFCRLF), "ERR_UNEXPECTED_EOF");
    assert.equal(drain(r), "abc\r\n\r");
  });

  test("returns null at a clean end of stream", () => {
    const r = readerOf(["a\0"], { ended: true });
    assert.equal(str(r.takeUntil(NUL)), "a");
    assert.equal(r.takeUntil(NUL), null);
    assert.equal(new Reader().takeUntil(NUL), undefined);
  });

  test("refuses an empty delimiter", () => {
    throwsCode(() => readerOf(["a"]).takeUntil(Buffer.alloc(0)), "ERR_INVALID_OPTION");
  });
});

describe("Reader: mixing reads and errors", () => {
  test("every kind of read mixed on one buffer loses no byte", () => {
    const data = "LINE1\r\nHDR\0" + "12345678" + "body--end" + "tail\npartial";
    const r = new Reader(LABEL);
    for (let i = 0; i < data.length; i += 3) r.push(Buffer.from(data.slice(i, i + 3), "latin1"));
    assert.equal(r.length, data.length);
    assert.equal(r.takeLine(), "LINE1");
    assert.equal(str(r.takeUntil(Buffer.from([0]))), "HDR");
    assert.equal(str(r.takeExactly(8)), "12345678");
    assert.equal(str(r.take(2)), "bo");
    assert.equal(str(r.takeUntil(Buffer.from("--"))), "dy");
    assert.equal(r.takeLine(), "endtail");
    assert.equal(r.takeLine(), undefined);
    assert.equal(r.takeExactly(100), undefined);
    r.end();
    throwsCode(() => r.takeExactly(100), "ERR_UNEXPECTED_EOF");
    throwsCode(() => r.takeUntil(Buffer.from("!")), "ERR_UNEXPECTED_EOF");
    assert.equal(r.takeLine(), "partial");
    assert.equal(r.takeLine(), null);
    assert.equal(r.length, 0);
  });

  test("a failed read in the middle of a stream consumes nothing", () => {
    const data = "xxxxxxxxxxxxxxx|tail\nmore";
    const r = readerOf([data.slice(0, 5), data.slice(5, 16), data.slice(16)], { ended: true });
    throwsCode(() => r.takeLine(4), "ERR_LINE_TOO_LONG");
    throwsCode(() => r.takeUntil(Buffer.from("|"), 4), "ERR_LINE_TOO_LONG");
    throwsCode(() => r.takeExactly(1000), "ERR_UNEXPECTED_EOF");
    assert.equal(r.length, data.length);
    assert.equal(str(r.takeUntil(Buffer.from("|"))), "x".repeat(15));
    assert.equal(r.takeLine(), "tail");
    assert.equal(r.takeLine(), "more");
    assert.equal(r.takeLine(), null);
    assert.equal(r.take(), null);
  });

  test("error messages name the label passed to the constructor, and only it", () => {
    const label = "tls://mail.example.com:465";
    const r = readerOf(["abcdef"], { ended: true, label });
    throwsCode(() => r.takeLine(2), "ERR_LINE_TOO_LONG", label);
    throwsCode(() => r.takeUntil(Buffer.from("!")), "ERR_UNEXPECTED_EOF", label);
    throwsCode(() => r.takeExactly(7), "ERR_UNEXPECTED_EOF", label);
    throwsCode(() => r.takeUntil(Buffer.alloc(0)), "ERR_INVALID_OPTION", label);
    throwsCode(() => readerOf(["abc"], { label: "udp://x:1" }).takeLine(1), "ERR_LINE_TOO_LONG", "udp://x:1");
  });

  test("an unlabelled reader says 'read: …' without a target", () => {
    const r = new Reader();
    r.push(Buffer.from("abc"));
    r.end();
    try {
      r.takeExactly(4);
      assert.fail("expected ERR_UNEXPECTED_EOF");
    } catch (err) {
      assert.ok(err instanceof SocketError);
      assert.equal(err.address, undefined);
      assert.match(err.message, /^read: stream ended after 3 of 4 bytes \(ERR_UNEXPECTED_EOF\)$/);
    }
  });

  test("length is what was pushed minus what was taken", () => {
    const r = new Reader();
    r.push(Buffer.from("ab\ncd"));
    r.push(Buffer.from("ef|gh"));
    assert.equal(r.length, 10);
    r.takeLine();
    assert.equal(r.length, 7);
    r.takeUntil(Buffer.from("|"));
    assert.equal(r.length, 2);
    r.take(1);
    assert.equal(r.length, 1);
  });
});

/**
 * Runs `fn` with the byte-moving primitives counted: bytes searched by Buffer#indexOf (from
 * its offset), compared by Buffer#equals, copied by Buffer#copy, Uint8Array#set and
 * Buffer.concat, plus the elements moved by Array#shift and Array#splice (a chunk list
 * shifted one by one is quadratic too). Deterministic, unlike a stopwatch on a busy machine.
 */
function countBytes(fn: () => void): number {
  let bytes = 0;
  let depth = 0;
  const restore: Array<() => void> = [];
  const wrap = <T extends object>(target: T, name: keyof T & string, cost: (self: unknown, args: unknown[]) => number) => {
    const original = target[name] as unknown as (...args: unknown[]) => unknown;
    (target as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]): unknown {
      if (depth === 0) bytes += cost(this, args);
      depth++;
      try {
        return original.apply(this, args);
      } finally {
        depth--;
      }
    };
    restore.push(() => {
      (target as Record<string, unknown>)[name] = original;
    });
  };
  const len = (v: unknown) => (v instanceof Uint8Array ? v.length : 0);
  wrap(Buffer.prototype, "indexOf", (self, args) => {
    const offset = typeof args[1] === "number" ? args[1] : 0;
    return Math.max(0, len(self) - (offset < 0 ? len(self) + offset : offset));
  });
  wrap(Buffer.prototype, "equals", (self) => len(self));
  wrap(Buffer.prototype, "copy", (self, args) => {
    const start = typeof args[2] === "number" ? args[2] : 0;
    const end = typeof args[3] === "number" ? args[3] : len(self);
    return Math.max(0, end - start);
  });
  wrap(Uint8Array.prototype, "set", (_, args) => (ArrayBuffer.isView(args[0]) || Array.isArray(args[0]) ? (args[0] as { length: number }).length : 0));
  wrap(Buffer, "concat", (_, args) => (args[0] as Uint8Array[]).reduce((n, b) => n + b.length, 0));
  wrap(Array.prototype, "shift", (self) => (self as unknown[]).length);
  wrap(Array.prototype, "splice", (self) => (self as unknown[]).length);
  try {
    fn();
  } finally {
    for (const undo of restore.reverse()) undo();
  }
  return bytes;
}

describe("Reader: cost stays linear in the bytes received", () => {
  // Joining the chunks or shifting them out one by one on every push is quadratic: for a
  // 64 KiB line arriving a byte at a time, about 2 × 10^9 bytes moved. The count makes that
  // visible on any machine; linear code moves a small multiple of the bytes received (2 to 35
  // here: a multi-byte delimiter arriving a byte at a time is searched in a small window per push).
  const BYTES_PER_BYTE = 64;
  const KiB = 1024;

  function linear(moved: number, received: number): void {
    assert.ok(moved <= BYTES_PER_BYTE * received + 64 * KiB,
      `moved ${moved} bytes for ${received} received (${(moved / received).toFixed(1)} per byte): superlinear`);
  }

  test("the byte counter sees a quadratic reader: chunks joined on every push", () => {
    const moved = countBytes(() => {
      let joined = Buffer.alloc(0);
      for (let i = 0; i < 4 * KiB; i++) {
        joined = Buffer.concat([joined, Buffer.from("a")]);
        joined.indexOf("\n");
      }
    });
    assert.ok(moved > 100 * 4 * KiB, `counted only ${moved} bytes`);
  });

  test("a 64 KiB line arriving one byte per push", () => {
    const r = new Reader();
    const one = Buffer.from("a");
    let line: string | null | undefined;
    const moved = countBytes(() => {
      for (let i = 0; i < 64 * KiB; i++) {
        r.push(one);
        if (r.takeLine(64 * KiB) !== undefined) throw new Error(`a line after ${i + 1} bytes`);
      }
      r.push(Buffer.from("\r\n"));
      line = r.takeLine(64 * KiB);
    });
    assert.equal(line?.length, 64 * KiB);
    linear(moved, 64 * KiB + 2);
  });

  test("a 64 KiB record with a multi-byte delimiter arriving one byte per push", () => {
    const r = new Reader();
    const one = Buffer.from("a");
    const delim = Buffer.from("\r\n\r\n");
    let record: Buffer | null | undefined;
    const moved = countBytes(() => {
      for (let i = 0; i < 64 * KiB; i++) {
        r.push(one);
        if (r.takeUntil(delim, 64 * KiB) !== undefined) throw new Error(`a record after ${i + 1} bytes`);
      }
      for (const byte of delim) r.push(Buffer.from([byte]));
      record = r.takeUntil(delim, 64 * KiB);
    });
    assert.equal(record?.length, 64 * KiB);
    linear(moved, 64 * KiB + delim.length);
  });

  test("a 32 MiB record with a multi-byte delimiter arriving in 16 KiB chunks", () => {
    const r = new Reader();
    const chunk = Buffer.alloc(16 * KiB, 0x62);
    const delim = Buffer.from("--boundary--");
    const chunks = 2048;
    const max = 64 * KiB * KiB;
    let record: Buffer | null | undefined;
    const moved = countBytes(() => {
      for (let i = 0; i < chunks; i++) {
        r.push(chunk);
        if (r.takeUntil(delim, max) !== undefined) throw new Error(`a record after ${i + 1} chunks`);
      }
      r.push(delim);
      record = r.takeUntil(delim, max);
    });
    assert.equal(record?.length, chunks * chunk.length);
    linear(moved, chunks * chunk.length + delim.length);
  });

  test("draining 256 Ki one-byte chunks with take() and takeExactly()", () => {
    const r = new Reader();
    const one = Buffer.from("z");
    const n = 256 * KiB;
    for (let i = 0; i < n; i++) r.push(one);
    let taken = 0;
    let exact: Buffer | null | undefined;
    const moved = countBytes(() => {
      while (r.take() !== undefined) taken++;
      for (let i = 0; i < n; i++) r.push(one);
      exact = r.takeExactly(n);
    });
    assert.equal(taken, n);
    assert.equal(exact?.length, n);
    linear(moved, 2 * n);
  });
});
