/**
 * PHP strings are byte strings. This layer represents them as "binary" JS strings: one char per
 * byte, every char code 0–255 (Node's `latin1` encoding), so `.length` is PHP's `strlen()` and
 * string operations work as in PHP. Text is converted explicitly with `toBinaryString()` /
 * `fromBinaryString()`.
 */

/**
 * UTF-8 text → PHP byte string (what a UTF-8 PHP source file would hold).
 *
 * @example
 * ```ts
 * await fwrite(fp, toBinaryString("Grüße\r\n")); // 8 bytes + CRLF, as PHP sends them
 * ```
 */
export function toBinaryString(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/**
 * PHP byte string → text, decoding UTF-8.
 *
 * @example
 * ```ts
 * fromBinaryString(await fgets(fp) || ""); // "Grüße\r\n"
 * ```
 */
export function fromBinaryString(bytes: string): string {
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/**
 * Bytes of PHP data: a binary string (each char code must be 0–255) or a Uint8Array.
 * @internal
 */
export function bytesOf(fn: string, argument: string, data: unknown): Buffer {
  if (typeof data === "string") {
    for (let i = 0; i < data.length; i++) {
      if (data.charCodeAt(i) > 0xff) {
        throw new TypeError(`${fn}(): ${argument} contains the character U+${data.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0")} at offset ${i}; `
          + "PHP strings are bytes: pass toBinaryString(text) to send text as UTF-8, or a Uint8Array");
      }
    }
    return Buffer.from(data, "latin1");
  }
  if (data instanceof Uint8Array) return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "number" || typeof data === "boolean") return Buffer.from(String(data === true ? "1" : data === false ? "" : data), "latin1");
  throw new TypeError(`${fn}(): ${argument} must be of type string, ${data === null ? "null" : typeof data} given`);
}

/** A FIFO of bytes: take, peek and search without copying more than needed. @internal */
export class ByteQueue {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Puts bytes back in front. */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.unshift(chunk);
    this.#length += chunk.length;
  }

  /** Up to `n` bytes from the front, removed. */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(out.length);
    return out;
  }

  /** Up to `n` bytes from the front, left in place. */
  peek(n: number): Buffer {
    n = Math.min(n, this.#length);
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const c of this.#chunks) {
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (at === n) break;
    }
    return out;
  }

  skip(n: number): void {
    n = Math.min(n, this.#length);
    this.#length -= n;
    while (n > 0) {
      const first = this.#chunks[0]!;
      if (first.length <= n) {
        this.#chunks.shift();
        n -= first.length;
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  /** Index of `needle` lying wholly within the first `limit` bytes, or -1. */
  indexOf(needle: Buffer, limit = Infinity): number {
    const region = this.peek(Math.min(limit, this.#length));
    return region.indexOf(needle);
  }

  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}
