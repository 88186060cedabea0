/**
 * The read buffer behind every Socket: lines, exact counts, delimiters and limits.
 *
 * Pure and synchronous, with no I/O, so it can be property-tested with any chunking.
 * Each `take*` method answers from what is buffered: a value when it can, `undefined`
 * when it needs more bytes (the Socket then waits for data), and — once `end()` was
 * called — `null` or an `ERR_UNEXPECTED_EOF` error instead of waiting forever.
 * Nothing is consumed unless a value is returned, so a failed or timed-out read never
 * loses a byte and every kind of read can be mixed on one connection. Arguments out of
 * range (a negative count, an empty delimiter) throw ERR_INVALID_OPTION and consume nothing.
 */
import { socketError } from "./errors.js";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/**
 * The one default line limit: `maxLength` of `readLine` and `readUntil`, and `maxLineLength` of
 * the STARTTLS dialogues: 8 KiB, room for any line a text protocol allows, little for a peer
 * that never sends a line end.
 */
export const DEFAULT_MAX_LINE = 8 * 1024;

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
  /** Received chunks; those before `#first` are consumed (a queue without `shift()`). */
  #chunks: Buffer[] = [];
  /** Index in `#chunks` of the chunk holding the first unread byte. */
  #first = 0;
  /** Offset of the first unread byte in `#chunks[#first]`. */
  #head = 0;
  #length = 0;
  #ended = false;
  /** Bytes known to hold no delimiter, for the delimiter cached in `#scanFor`. */
  #scanned = 0;
  #scanFor: Buffer | number | null = null;
  readonly #label: string | { readonly url: string } | undefined;

  /** @param label the target URL, named in error messages, or what knows it (read only for an error) */
  constructor(label?: string | { readonly url: string }) {
    this.#label = label;
  }

  /** The label for error messages (worked out only when an error is made). */
  #where(): string | undefined {
    const label = this.#label;
    return typeof label === "object" ? label.url : label;
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

  /** Up to `n` leading buffered bytes, without consuming them (a copy). */
  peek(n: number): Buffer {
    const count = Math.min(n, this.#length);
    const out = Buffer.allocUnsafe(count);
    for (let i = 0; i < count; i++) out[i] = this.#byteAt(i);
    return out;
  }

  /**
   * Up to `max` buffered bytes; `undefined` when empty, `null` when empty at end of stream.
   */
  take(max = Infinity): Buffer | null | undefined {
    if (!(max > 0 && (max === Infinity || Number.isInteger(max)))) {
      throw this.#invalid("take(max): max must be a positive integer");
    }
    if (this.#length === 0) return this.#ended ? null : undefined;
    const first = this.#chunks[this.#first]!;
    if (this.#head === 0 && first.length <= max) {
      // Whole-chunk fast path: hand over Node's buffer without copying.
      this.#dropFirst();
      this.#length -= first.length;
      this.#consumed(first.length);
      return first;
    }
    return this.#splice(Math.min(max, this.#length));
  }

  /**
   * Exactly `n` bytes, `undefined` until they are buffered. At end of stream: `null` when no
   * byte of the frame had arrived (a clean end between frames, Go's io.EOF), ERR_UNEXPECTED_EOF
   * when some had (a cut frame, Go's ErrUnexpectedEOF).
   */
  takeExactly(n: number): Buffer | null | undefined {
    if (!(Number.isInteger(n) && n >= 0)) {
      throw this.#invalid("takeExactly(n): n must be a non-negative integer");
    }
    if (this.#length >= n) return n === 0 ? EMPTY : this.#splice(n);
    if (this.#ended) {
      if (this.#length === 0) return null;
      throw socketError("ERR_UNEXPECTED_EOF", "read", this.#where(),
        `stream ended after ${this.#length} of ${n} bytes`);
    }
    return undefined;
  }

  /**
   * Copies up to `target.length` buffered bytes into `target` and returns how many; `undefined`
   * when nothing is buffered, `null` when nothing is buffered at end of stream.
   */
  takeInto(target: Uint8Array): number | null | undefined {
    if (!(target instanceof Uint8Array) || target.length === 0) {
      throw this.#invalid("readInto(buffer): buffer must be a non-empty Uint8Array");
    }
    if (this.#length === 0) return this.#ended ? null : undefined;
    const n = Math.min(target.length, this.#length);
    this.#copyOut(target, n);
    this.#length -= n;
    this.#consumed(n);
    return n;
  }

  /**
   * The next line without its LF or CRLF, decoded as UTF-8. At end of stream an
   * unterminated tail is returned as a line, and `null` follows.
   * Throws ERR_LINE_TOO_LONG as soon as the line is known to exceed `maxLength` bytes
   * (at the latest once `maxLength + 2` bytes hold no LF), so the buffer never grows
   * without bound; the bytes stay buffered for `take()`.
   */
  takeLine(maxLength = DEFAULT_MAX_LINE): string | null | undefined {
    if (!(maxLength >= 0)) throw this.#invalid("maxLength must be a non-negative number");
    const at = this.#find(LF);
    if (at === -1) {
      const length = this.#length;
      if (length === 0) return this.#ended ? null : undefined;
      if (this.#ended) {
        // Check before consuming: a refused tail stays buffered.
        if (length > maxLength) throw lineTooLong(maxLength, this.#where());
        return this.#splice(length).toString("utf8");
      }
      // Too long already, unless the one byte past maxLength is a CR that may start a CRLF.
      if (length > maxLength && (length > maxLength + 1 || this.#lastByte() !== CR)) {
        throw lineTooLong(maxLength, this.#where());
      }
      return undefined;
    }
    let end = at;
    if (end > 0 && this.#byteAt(end - 1) === CR) end--;
    if (end > maxLength) throw lineTooLong(maxLength, this.#where());
    return this.#splice(at + 1).toString("utf8", 0, end);
  }

  /**
   * Bytes up to (not including) `delimiter`, which is consumed. `null` at a clean end of
   * stream; ERR_UNEXPECTED_EOF when the stream ends inside a record (the bytes stay
   * buffered); ERR_LINE_TOO_LONG as soon as no delimiter can begin within `maxLength`
   * bytes (the bytes stay buffered).
   */
  takeUntil(delimiter: Buffer, maxLength = DEFAULT_MAX_LINE): Buffer | null | undefined {
    const width = delimiter.length;
    if (width === 0) {
      throw this.#invalid("delimiter must not be empty");
    }
    if (!(maxLength >= 0)) throw this.#invalid("maxLength must be a non-negative number");
    const at = this.#find(width === 1 ? delimiter[0]! : delimiter);
    if (at !== -1) {
      if (at > maxLength) throw lineTooLong(maxLength, this.#where(), "delimiter");
      return this.#splice(at + width).subarray(0, at);
    }
    const length = this.#length;
    if (length > maxLength && !this.#delimiterMayStart(delimiter, maxLength)) {
      throw lineTooLong(maxLength, this.#where(), "delimiter");
    }
    if (!this.#ended) return undefined;
    if (length === 0) return null;
    throw socketError("ERR_UNEXPECTED_EOF", "read", this.#where(),
      `stream ended inside a record of ${length} bytes without its delimiter`);
  }

  /**
   * Index of `needle` (a byte, or a Buffer of two or more bytes) from the start of the
   * unread bytes, or -1. Bytes already searched for the same needle are not searched again.
   */
  #find(needle: Buffer | number): number {
    if (!sameNeedle(this.#scanFor, needle)) {
      // Keep a private copy: a caller may reuse and rewrite its delimiter Buffer.
      this.#scanFor = typeof needle === "number" ? needle : Buffer.from(needle);
      this.#scanned = 0;
    }
    const width = typeof needle === "number" ? 1 : needle.length;
    // A multi-byte delimiter may straddle the end of what was already scanned.
    const from = Math.max(0, this.#scanned - (width - 1));
    if (from >= this.#length) return -1;
    const found = this.#scan(needle, from);
    if (found === -1) this.#scanned = this.#length;
    return found;
  }

  /**
   * Searches the unread bytes from offset `from`, chunk by chunk, without joining chunks:
   * a multi-byte needle that straddles a boundary is found in a small window made of the
   * last `width - 1` bytes before the boundary and the first `width - 1` after it.
   * Starts from the chunk holding `from`, found by walking back from the newest chunk, so
   * each call costs what the new bytes cost, however many chunks are buffered.
   */
  #scan(needle: Buffer | number, from: number): number {
    const chunks = this.#chunks;
    const first = this.#first;
    let i = chunks.length - 1;
    let base = this.#length; // offset, in unread bytes, of the first unread byte of chunk i
    for (;;) {
      base -= chunks[i]!.length - (i === first ? this.#head : 0);
      if (base <= from || i === first) break;
      i--;
    }
    if (typeof needle === "number") {
      for (; i < chunks.length; i++) {
        const chunk = chunks[i]!;
        const start = i === first ? this.#head : 0;
        const idx = chunk.indexOf(needle, start + Math.max(0, from - base));
        if (idx !== -1) return base + idx - start;
        base += chunk.length - start;
      }
      return -1;
    }
    const keep = needle.length - 1;
    let carry: Buffer = EMPTY; // the last `keep` (or fewer) bytes scanned before chunk i
    for (; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const start = i === first ? this.#head : 0;
      const offset = start + Math.max(0, from - base);
      if (carry.length > 0) {
        const window = Buffer.concat([carry, chunk.subarray(offset, offset + keep)]);
        const idx = window.indexOf(needle);
        // Only a match that begins in `carry`; one inside the chunk is found below.
        if (idx !== -1 && idx < carry.length) return base + offset - start - carry.length + idx;
      }
      const idx = chunk.indexOf(needle, offset);
      if (idx !== -1) return base + idx - start;
      if (chunk.length - offset >= keep) {
        carry = chunk.subarray(chunk.length - keep);
      } else {
        const joined = Buffer.concat([carry, chunk.subarray(offset)]);
        carry = joined.subarray(Math.max(0, joined.length - keep));
      }
      base += chunk.length - start;
    }
    return -1;
  }

  /**
   * Whether `delimiter` may still begin at or before offset `maxLength`, the buffer being
   * longer than that and holding no complete delimiter: true when some suffix of the buffer
   * that starts within `maxLength` is a prefix of the delimiter.
   */
  #delimiterMayStart(delimiter: Buffer, maxLength: number): boolean {
    const length = this.#length;
    const lo = Math.max(0, length - delimiter.length + 1);
    if (lo > maxLength) return false;
    const tail = this.#tail(length - lo);
    for (let q = lo; q <= maxLength; q++) {
      const k = length - q;
      if (tail.subarray(q - lo).equals(delimiter.subarray(0, k))) return true;
    }
    return false;
  }

  /** A view or copy of the last `k` unread bytes (0 < k ≤ length). */
  #tail(k: number): Buffer {
    const parts: Buffer[] = [];
    for (let i = this.#chunks.length - 1, need = k; need > 0; i--) {
      const chunk = this.#chunks[i]!;
      const n = Math.min(need, chunk.length - (i === this.#first ? this.#head : 0));
      parts.unshift(chunk.subarray(chunk.length - n));
      need -= n;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  #lastByte(): number {
    const last = this.#chunks[this.#chunks.length - 1]!;
    return last[last.length - 1]!;
  }

  #byteAt(index: number): number {
    let at = index + this.#head;
    for (let i = this.#first; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      if (at < chunk.length) return chunk[at]!;
      at -= chunk.length;
    }
    return -1;
  }

  #invalid(text: string) {
    return socketError("ERR_INVALID_OPTION", "read", this.#where(), text);
  }

  /** Removes and returns the first `n` bytes (0 < n ≤ length): a view when one chunk holds them. */
  #splice(n: number): Buffer {
    const first = this.#chunks[this.#first]!;
    const avail = first.length - this.#head;
    let out: Buffer;
    if (n <= avail) {
      out = first.subarray(this.#head, this.#head + n);
      if (n === avail) this.#dropFirst();
      else this.#head += n;
    } else {
      out = Buffer.allocUnsafe(n);
      this.#copyOut(out, n);
    }
    this.#length -= n;
    this.#consumed(n);
    return out;
  }

  /** Moves the first `n` buffered bytes into `out` (the caller updates the length). */
  #copyOut(out: Uint8Array, n: number): void {
    let copied = 0;
    while (copied < n) {
      const chunk = this.#chunks[this.#first]!;
      const size = Math.min(chunk.length - this.#head, n - copied);
      chunk.copy(out, copied, this.#head, this.#head + size);
      copied += size;
      if (this.#head + size === chunk.length) this.#dropFirst();
      else this.#head += size;
    }
  }

  /**
   * Drops the (fully read) first chunk in O(1): `Array#shift` moves every element once the
   * queue is long (thousands of tiny chunks from a trickling peer), which made reads quadratic.
   */
  #dropFirst(): void {
    const chunks = this.#chunks;
    chunks[this.#first++] = EMPTY; // let the chunk be collected
    this.#head = 0;
    // Compact now and then, moving at most as many slots as were dropped (amortised O(1)).
    // Not on every emptying: truncating the array frees its storage, and each push would
    // then allocate it again.
    if (this.#first >= 1024 && this.#first * 2 >= chunks.length) {
      chunks.splice(0, this.#first);
      this.#first = 0;
    }
  }

  #consumed(n: number): void {
    this.#scanned = Math.max(0, this.#scanned - n);
  }
}

/**
 * Whether `needle` has the content of the cached one. Short delimiters are compared here:
 * `Buffer#equals` crosses into C++ on every read, which costs more than the search itself.
 */
function sameNeedle(cached: Buffer | number | null, needle: Buffer | number): boolean {
  if (typeof needle === "number") return cached === needle;
  if (cached === null || typeof cached === "number" || cached.length !== needle.length) return false;
  if (needle.length > 16) return cached.equals(needle);
  for (let i = 0; i < needle.length; i++) if (cached[i] !== needle[i]) return false;
  return true;
}

function lineTooLong(maxLength: number, label: string | undefined, what = "line end") {
  return socketError("ERR_LINE_TOO_LONG", "read", label,
    `no ${what} within maxLength ${maxLength} bytes`);
}
