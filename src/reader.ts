/**
 * The read buffer behind every Socket: lines, exact counts, delimiters and limits.
 *
 * Pure and synchronous, with no I/O, so it can be property-tested with any chunking.
 * Each `take*` method answers from what is buffered: a value when it can, `undefined`
 * when it needs more bytes (the Socket then waits for data), and — once `end()` was
 * called — `null` or an `ERR_UNEXPECTED_EOF` error instead of waiting forever.
 * Nothing is consumed unless a value is returned, so a failed or timed-out read never
 * loses a byte and every kind of read can be mixed on one connection.
 */
import { socketError } from "./errors.js";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** Default `maxLength` of `readLine` and `readUntil`: 64 KiB. */
export const DEFAULT_MAX_LINE = 64 * 1024;

/**
 * A FIFO of received chunks with delimiter search that never rescans bytes.
 *
 * @example
 * ```ts
 * const r = new Reader();
 * r.push(Buffer.from("HELO\r\nrest"));
 * r.takeLine(1024); // "HELO"
 * r.take(4);        // <Buffer 72 65 73 74>
 * ```
 */
export class Reader {
  #chunks: Buffer[] = [];
  /** Offset of the first unread byte in `#chunks[0]`. */
  #head = 0;
  #length = 0;
  #ended = false;
  /** Bytes known to hold no delimiter, for the delimiter cached in `#scanFor`. */
  #scanned = 0;
  #scanFor: Buffer | number | null = null;
  readonly #label: string | undefined;

  /** @param label the target URL, named in error messages */
  constructor(label?: string) {
    this.#label = label;
  }

  /** Bytes buffered and not yet read. */
  get length(): number {
    return this.#length;
  }

  /** True once the peer's end of stream was seen. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Appends received bytes. Empty chunks are ignored. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Marks the end of the stream: reads that need more bytes now finish instead of waiting. */
  end(): void {
    this.#ended = true;
  }

  /**
   * Up to `max` buffered bytes; `undefined` when empty, `null` when empty at end of stream.
   */
  take(max = Infinity): Buffer | null | undefined {
    if (this.#length === 0) return this.#ended ? null : undefined;
    const first = this.#chunks[0]!;
    if (this.#head === 0 && first.length <= max) {
      // Whole-chunk fast path: hand over Node's buffer without copying.
      this.#chunks.shift();
      this.#length -= first.length;
      this.#consumed(first.length);
      return first;
    }
    return this.#splice(Math.min(max, this.#length));
  }

  /** Exactly `n` bytes, `undefined` until they are buffered; at end of stream, ERR_UNEXPECTED_EOF. */
  takeExactly(n: number): Buffer | undefined {
    if (this.#length >= n) return n === 0 ? EMPTY : this.#splice(n);
    if (this.#ended) {
      throw socketError("ERR_UNEXPECTED_EOF", "read", this.#label,
        `stream ended after ${this.#length} of ${n} bytes`);
    }
    return undefined;
  }

  /**
   * The next line without its LF or CRLF, decoded as UTF-8. At end of stream an
   * unterminated tail is returned as a line, and `null` follows.
   * Throws ERR_LINE_TOO_LONG when `maxLength` bytes pass without a line end, so the
   * buffer never grows without bound; the bytes stay buffered for `take()`.
   */
  takeLine(maxLength = DEFAULT_MAX_LINE): string | null | undefined {
    // Room for the longest valid line: maxLength bytes, then CR and LF.
    const at = this.#find(LF, maxLength + 2, maxLength);
    if (at === -1) {
      if (this.#length === 0) return this.#ended ? null : undefined;
      if (this.#ended) {
        const tail = this.#splice(this.#length);
        if (tail.length > maxLength) throw lineTooLong(maxLength, this.#label);
        return tail.toString("utf8");
      }
      return undefined;
    }
    let end = at;
    if (end > 0 && this.#byteAt(end - 1) === CR) end--;
    if (end > maxLength) throw lineTooLong(maxLength, this.#label);
    return this.#splice(at + 1).toString("utf8", 0, end);
  }

  /**
   * Bytes up to (not including) `delimiter`, which is consumed. `null` at a clean end of
   * stream; ERR_UNEXPECTED_EOF when the stream ends inside a record (the bytes stay
   * buffered); ERR_LINE_TOO_LONG past `maxLength` bytes without the delimiter.
   */
  takeUntil(delimiter: Buffer, maxLength = DEFAULT_MAX_LINE): Buffer | null | undefined {
    if (delimiter.length === 0) {
      throw socketError("ERR_INVALID_OPTION", "read", this.#label, "delimiter must not be empty");
    }
    const needle = delimiter.length === 1 ? delimiter[0]! : delimiter;
    const at = this.#find(needle, maxLength + delimiter.length, maxLength);
    if (at > maxLength) throw lineTooLong(maxLength, this.#label);
    if (at === -1) {
      if (this.#length === 0 && this.#ended) return null;
      if (this.#ended) {
        throw socketError("ERR_UNEXPECTED_EOF", "read", this.#label,
          `stream ended inside a record of ${this.#length} bytes without its delimiter`);
      }
      return undefined;
    }
    const record = this.#splice(at + delimiter.length);
    return record.subarray(0, at);
  }

  /**
   * Index of `needle` from the start of the unread bytes, or -1. Throws ERR_LINE_TOO_LONG
   * once `limit` bytes are buffered without it. Bytes already searched are not searched again.
   */
  #find(needle: Buffer | number, limit: number, maxLength: number): number {
    if (!sameNeedle(this.#scanFor, needle)) {
      this.#scanFor = needle;
      this.#scanned = 0;
    }
    const width = typeof needle === "number" ? 1 : needle.length;
    // A multi-byte delimiter may straddle the boundary of what was already scanned.
    const from = Math.max(0, this.#scanned - (width - 1));
    const found = width === 1 || this.#chunks.length <= 1
      ? this.#scanChunks(needle, from)
      : this.#scanJoined(needle as Buffer, from);
    if (found !== -1) return found;
    this.#scanned = this.#length;
    if (this.#length >= limit) throw lineTooLong(maxLength, this.#label);
    return -1;
  }

  /** Search chunk by chunk (single-byte needles, or a single chunk). */
  #scanChunks(needle: Buffer | number, from: number): number {
    let base = 0;
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      const start = i === 0 ? this.#head : 0;
      const size = chunk.length - start;
      if (from < base + size) {
        const idx = chunk.indexOf(needle, start + Math.max(0, from - base));
        if (idx !== -1) return base + idx - start;
      }
      base += size;
    }
    return -1;
  }

  /** Multi-byte needles across chunks: join once, then keep the joined buffer. */
  #scanJoined(needle: Buffer, from: number): number {
    const joined = Buffer.concat(this.#view());
    this.#chunks = [joined];
    this.#head = 0;
    return joined.indexOf(needle, from);
  }

  #byteAt(index: number): number {
    let i = index + this.#head;
    for (const chunk of this.#chunks) {
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    return -1;
  }

  #view(): Buffer[] {
    const parts = this.#chunks.slice();
    if (this.#head > 0) parts[0] = parts[0]!.subarray(this.#head);
    return parts;
  }

  /** Removes and returns the first `n` bytes (0 < n ≤ length). */
  #splice(n: number): Buffer {
    const first = this.#chunks[0]!;
    const avail = first.length - this.#head;
    let out: Buffer;
    if (n <= avail) {
      out = first.subarray(this.#head, this.#head + n);
      if (n === avail) {
        this.#chunks.shift();
        this.#head = 0;
      } else {
        this.#head += n;
      }
    } else {
      out = Buffer.allocUnsafe(n);
      let copied = 0;
      while (copied < n) {
        const chunk = this.#chunks[0]!;
        const take = Math.min(chunk.length - this.#head, n - copied);
        chunk.copy(out, copied, this.#head, this.#head + take);
        copied += take;
        if (this.#head + take === chunk.length) {
          this.#chunks.shift();
          this.#head = 0;
        } else {
          this.#head += take;
        }
      }
    }
    this.#length -= n;
    this.#consumed(n);
    return out;
  }

  #consumed(n: number): void {
    this.#scanned = Math.max(0, this.#scanned - n);
  }
}

function sameNeedle(a: Buffer | number | null, b: Buffer | number): boolean {
  if (a === null || typeof a !== typeof b) return false;
  return typeof a === "number" ? a === b : (a as Buffer).equals(b as Buffer);
}

function lineTooLong(maxLength: number, label: string | undefined) {
  return socketError("ERR_LINE_TOO_LONG", "read", label,
    `no line end within maxLength ${maxLength} bytes`);
}
