/**
 * stream_select: PHP's readiness rules over sockurl streams. Buffered read data wins at once;
 * otherwise each stream is probed (reads and accepts land in the stream's own queues, so nothing
 * is lost) until one is ready or the timeout passes.
 */
import { PhpStream } from "./stream.js";
import { ValueError, type Ref } from "./warnings.js";

/** A stream_select array: a list (compacted on return) or a keyed record (keys kept). */
export type SelectArray = PhpStream[] | Record<string, PhpStream>;

const SLICE_MS = 50;
const now = () => performance.now();

type Entry = [key: string, stream: PhpStream];

function entriesOf(ref: Ref<SelectArray | null> | null | undefined): Entry[] | null {
  if (ref === null || ref === undefined || ref.value === null || ref.value === undefined) return null;
  const value = ref.value;
  const entries: Entry[] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  for (const [, v] of entries) {
    if (!(v instanceof PhpStream)) throw new TypeError("stream_select(): supplied argument is not a valid stream resource");
  }
  return entries.filter(([, v]) => !v.closed);
}

function assign(ref: Ref<SelectArray | null> | null | undefined, keep: Entry[]): void {
  if (ref === null || ref === undefined || ref.value === null || ref.value === undefined) return;
  if (Array.isArray(ref.value)) {
    // Keys are kept, as in PHP: a list may come back with holes (iterate with Object.entries).
    const out: PhpStream[] = [];
    for (const [k, v] of keep) out[Number(k)] = v;
    ref.value = out;
  } else ref.value = Object.fromEntries(keep);
}

const distinct = (entries: Entry[]) => new Set(entries.map(([, v]) => v)).size;

/**
 * Waits until streams are readable or writable (PHP's `stream_select`), for `seconds` +
 * `microseconds` (null: forever). The arrays are narrowed in place to the ready streams; resolves
 * to how many are ready (0 on timeout). Data already in a stream's read buffer makes it ready at
 * once, and then only those streams are reported. Keys are kept, as in PHP: a list may come back
 * with holes, so iterate it with `Object.entries`/`Object.values` (PHP's foreach), or pass a record.
 * Out-of-band data is never reported: `except` always comes back empty.
 *
 * @example
 * ```ts
 * const read = ref<SelectArray | null>({ a: fp1, b: fp2 });
 * if (await stream_select(read, null, null, 5) > 0) for (const [key, fp] of Object.entries(read.value!)) …
 * ```
 */
export async function stream_select(
  read: Ref<SelectArray | null> | null,
  write: Ref<SelectArray | null> | null,
  except: Ref<SelectArray | null> | null,
  seconds: number | null,
  microseconds: number | null = null,
): Promise<number | false> {
  if (seconds === null || seconds === undefined) {
    if (microseconds !== null && microseconds !== undefined && microseconds !== 0) {
      throw new ValueError("stream_select(): Argument #5 ($microseconds) must be null when argument #4 ($seconds) is null");
    }
  } else if (seconds < 0) {
    throw new ValueError("stream_select(): Argument #4 ($seconds) must be greater than or equal to 0");
  }
  if (microseconds !== null && microseconds !== undefined && microseconds < 0) {
    throw new ValueError("stream_select(): Argument #5 ($microseconds) must be greater than or equal to 0");
  }
  const r = entriesOf(read), w = entriesOf(write), e = entriesOf(except);
  if ((r?.length ?? 0) + (w?.length ?? 0) + (e?.length ?? 0) === 0) throw new ValueError("No stream arrays were passed");
  const reads = r ?? [], writes = w ?? [];
  const buffered = reads.filter(([, v]) => v.buffer.length > 0);
  if (buffered.length > 0) {
    assign(read, buffered);
    assign(write, []);
    assign(except, []);
    return distinct(buffered);
  }
  const ms = seconds === null || seconds === undefined ? Infinity : Math.trunc(seconds) * 1000 + Math.trunc(microseconds ?? 0) / 1000;
  const deadline = now() + ms;
  const streams = [...new Set([...reads, ...writes].map(([, v]) => v))];
  await Promise.all(reads.map(([, v]) => v.pollNow()));
  try {
    for (;;) {
      const readyR = reads.filter(([, v]) => v.readReady);
      const readyW = writes.filter(([, v]) => v.writeReady);
      const remaining = deadline - now();
      if (readyR.length + readyW.length > 0 || remaining <= 0) {
        assign(read, readyR);
        assign(write, readyW);
        assign(except, []);
        return distinct(readyR) + distinct(readyW);
      }
      const slice = Math.min(remaining, SLICE_MS);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise((resolve) => {
          timer = setTimeout(resolve, slice);
        }),
        ...streams.map((v) => v.probe(slice, reads.some(([, x]) => x === v), writes.some(([, x]) => x === v))),
      ]);
      clearTimeout(timer);
    }
  } finally {
    for (const v of streams) v.stopProbing();
  }
}
