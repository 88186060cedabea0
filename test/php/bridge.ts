/**
 * A stand-in for sockurl/php that forwards every call to a real PHP process (bridge.php), with the
 * layer's shapes: the same function names, async where the layer is async, `ref()` objects,
 * `set_error_handler`, the constants. Running the TypeScript twins against it must reproduce PHP's
 * logs exactly; when it does not, the twin (or the harness) is wrong, not the layer. It is the
 * suite's self-check:
 *
 *   node dist/test/php/cli.js --bridge [FILTER…]
 *
 * Calls go through two FIFOs opened read-write (so that opening never blocks): synchronous layer
 * functions block this thread on the answer (PHP never waits on our servers in those), asynchronous
 * ones read it on the thread pool.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, read, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sourceDir, type PhpBinary, type PhpLayer } from "./harness.js";

/** The layer's synchronous functions (src/php/index.ts); every other function returns a promise. */
const SYNC = new Set([
  "stream_socket_get_name", "stream_get_transports", "stream_context_create", "stream_context_set_option",
  "stream_context_get_options", "stream_set_timeout", "stream_set_blocking", "stream_get_meta_data", "feof",
  "get_resource_type", "openssl_x509_export",
]);

const ASYNC = [
  "fsockopen", "pfsockopen", "stream_socket_client", "stream_socket_server", "stream_socket_accept",
  "stream_socket_enable_crypto", "stream_socket_recvfrom", "stream_socket_sendto", "stream_socket_shutdown",
  "stream_socket_pair", "stream_select", "fgets", "fgetc", "fread", "fwrite", "fputs", "fclose", "stream_get_line",
  "stream_get_contents",
];

/** A PHP resource seen through the bridge (identity is kept: one object per PHP resource). */
export class BridgedStream {
  constructor(readonly id: number) {}
}

/** A PHP object (OpenSSLCertificate) seen through the bridge. */
export class OpenSSLCertificate {
  constructor(
    readonly id: number,
    readonly pem: string,
  ) {}
}

type Wire = null | boolean | number | { f: number } | { b: string } | { r: number } | { o: string; id: number } | { a: [string | number, Wire][]; list: boolean };

interface Response {
  ret: Wire;
  refs: Record<string, Wire>;
  warnings: [number, string][];
  throw: [string, string] | null;
}

export interface Bridge {
  php: PhpLayer;
  close(): void;
}

export function openBridge(php: PhpBinary): Bridge {
  const dir = mkdtempSync(join(tmpdir(), "sockurl-php-bridge-"));
  const requestPath = join(dir, "request");
  const responsePath = join(dir, "response");
  const made = spawnSync("mkfifo", [requestPath, responsePath]);
  if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  const requestFd = openSync(requestPath, "r+");
  const responseFd = openSync(responsePath, "r+");
  const child: ChildProcess = spawn(php.bin, ["-n", join(sourceDir, "bridge.php"), requestPath, responsePath], { stdio: ["ignore", "inherit", "inherit"] });
  let pending = Buffer.alloc(0);
  let closed = false;

  const takeLine = (): string | null => {
    const nl = pending.indexOf(0x0a);
    if (nl < 0) return null;
    const line = pending.subarray(0, nl).toString("utf8");
    pending = pending.subarray(nl + 1);
    return line;
  };
  const readLineSync = (): string => {
    const chunk = Buffer.alloc(65536);
    for (;;) {
      const line = takeLine();
      if (line !== null) return line;
      const n = readSync(responseFd, chunk, 0, chunk.length, null);
      pending = Buffer.concat([pending, chunk.subarray(0, n)]);
    }
  };
  const readLineAsync = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunk = Buffer.alloc(65536);
      const step = (): void => {
        const line = takeLine();
        if (line !== null) return resolve(line);
        read(responseFd, chunk, 0, chunk.length, null, (err, n) => {
          if (err) return reject(err);
          if (closed) return reject(new Error("bridge closed"));
          pending = Buffer.concat([pending, chunk.subarray(0, n)]);
          step();
        });
      };
      step();
    });

  const handles = new Map<number, BridgedStream | OpenSSLCertificate>();
  const refs = new WeakSet<object>();
  let handlers: ((level: number, message: string) => unknown)[] = [];

  const encode = (v: unknown): Wire => {
    if (v === undefined || v === null) return null;
    if (typeof v === "boolean") return v;
    if (typeof v === "number") return Number.isInteger(v) ? v : { f: v };
    if (typeof v === "string") return { b: Buffer.from(v, "latin1").toString("base64") };
    if (v instanceof Uint8Array) return { b: Buffer.from(v).toString("base64") };
    if (v instanceof BridgedStream) return { r: v.id };
    if (v instanceof OpenSSLCertificate) return { o: "OpenSSLCertificate", id: v.id };
    if (Array.isArray(v)) return { a: v.map((x, i) => [i, encode(x)]), list: true };
    if (v instanceof Map) return { a: [...v.entries()].map(([k, x]) => [k as string, encode(x)]), list: false };
    if (typeof v === "object") return { a: Object.entries(v).map(([k, x]) => [/^(0|[1-9]\d*)$/.test(k) ? Number(k) : k, encode(x)]), list: false };
    throw new Error(`bridge: cannot send ${typeof v}`);
  };

  const decode = (w: Wire): unknown => {
    if (w === null || typeof w !== "object") return w;
    if ("f" in w) return w.f;
    if ("b" in w) return Buffer.from(w.b, "base64").toString("latin1");
    if ("r" in w) {
      let h = handles.get(w.r);
      if (!h) handles.set(w.r, (h = new BridgedStream(w.r)));
      return h;
    }
    if ("o" in w) {
      let h = handles.get(w.id);
      if (!h) {
        const out = { value: null as unknown };
        callSync("openssl_x509_export", [{ o: w.o, id: w.id }, out], [1]);
        handles.set(w.id, (h = new OpenSSLCertificate(w.id, String(out.value))));
      }
      return h;
    }
    if (w.list) return w.a.map(([, x]) => decode(x));
    const o: Record<string, unknown> = {};
    for (const [k, x] of w.a) o[String(k)] = decode(x);
    return o;
  };

  const request = (fn: string, args: unknown[], refIndexes?: number[]): string => {
    const byRef = refIndexes ?? args.flatMap((a, i) => (a !== null && typeof a === "object" && refs.has(a) ? [i] : []));
    const wireArgs = args.map((a, i) => (byRef.includes(i) && a && typeof a === "object" ? encodeRaw((a as { value: unknown }).value) : encodeRaw(a)));
    return JSON.stringify({ fn, args: wireArgs, refs: byRef }) + "\n";
  };
  // The certificate export passes a Wire object straight through.
  const encodeRaw = (v: unknown): Wire => (v && typeof v === "object" && "o" in v && "id" in v && !(v instanceof OpenSSLCertificate) ? (v as Wire) : encode(v));

  const settle = (args: unknown[], line: string): unknown => {
    const response = JSON.parse(line) as Response;
    for (const [index, value] of Object.entries(response.refs)) {
      const target = args[Number(index)] as { value: unknown };
      if (target && typeof target === "object") target.value = decode(value);
    }
    for (const [level, message] of response.warnings) {
      const handler = handlers[handlers.length - 1];
      if (handler) handler(level, message);
    }
    if (response.throw) {
      const [cls, message] = response.throw;
      const err = cls === "TypeError" ? new TypeError(message) : new Error(message);
      if (cls !== "TypeError") err.name = cls;
      throw err;
    }
    return decode(response.ret);
  };

  function callSync(fn: string, args: unknown[], refIndexes?: number[]): unknown {
    writeSync(requestFd, request(fn, args, refIndexes));
    return settle(args, readLineSync());
  }
  let queue: Promise<unknown> = Promise.resolve();
  const callAsync = (fn: string, args: unknown[]): Promise<unknown> => {
    const run = async (): Promise<unknown> => {
      writeSync(requestFd, request(fn, args));
      return settle(args, await readLineAsync());
    };
    const result = queue.then(run, run);
    queue = result.catch(() => {});
    return result;
  };

  const layer: PhpLayer = {
    ref: <T>(value: T) => {
      const r = { value };
      refs.add(r);
      return r;
    },
    set_error_handler(handler: ((level: number, message: string) => unknown) | null) {
      const previous = handlers[handlers.length - 1] ?? null;
      if (handler === null) handlers = [];
      else handlers.push(handler);
      return previous;
    },
    restore_error_handler() {
      handlers.pop();
      return true;
    },
  };
  for (const fn of SYNC) layer[fn] = (...args: unknown[]) => callSync(fn, args);
  for (const fn of ASYNC) layer[fn] = (...args: unknown[]) => callAsync(fn, args);
  Object.assign(layer, callSync("#constants", []) as Record<string, number>);

  return {
    php: layer,
    close() {
      if (closed) return;
      try {
        writeSync(requestFd, JSON.stringify({ fn: "#exit" }) + "\n");
      } catch {
        // already gone
      }
      closed = true;
      // Wake a thread-pool read that may still wait for an answer (we hold the FIFO's write side too).
      writeSync(responseFd, "\n");
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true }); // the open descriptors keep the FIFOs usable
      setTimeout(() => {
        closeSync(requestFd);
        closeSync(responseFd);
      }, 100).unref();
    },
  };
}
