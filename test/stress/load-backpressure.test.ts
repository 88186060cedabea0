/**
 * Load 3: backpressure. A writer sends up to 1 GiB as fast as it can (`await socket.write()` of a
 * fresh 64 KiB buffer, in a loop) to a reader that takes 1 MiB/s; after ten seconds the writer
 * stops. On TCP, TLS and an SMTP-STARTTLS-upgraded socket, the writer's memory must stay within a
 * few high-water marks: Node's user-space write buffer (`writableLength` of `socket.stream`), the
 * bytes written beyond what the kernel and the reader hold, and the writer's heap and RSS growth.
 *
 * The writer is a child process (`--expose-gc`), so that its memory is measured alone; the reader
 * (a sockurl server: tcp://, tls://, or tcp:// playing an SMTP server that upgrades with
 * `startTls({ server: true })`) runs in this test process and reads with `read(max)` from a token
 * bucket of 1 MiB/s. At the stop the writer reads the kernel's queues of both ends from
 * /proc/net/tcp, so that every byte written is accounted for.
 *
 * Reproduce: npm run build && node --test dist/test/stress/load-backpressure.test.js
 * (LOAD_BP_SECONDS changes the duration.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect, listen, type Server, type Socket } from "../../src/index.js";
import { makePki } from "../fixtures/pki.js";
import {
  GiB, HOST, KiB, MiB, PeakSampler, bytes, escapeCount, escapes, heard, keepFigures, procNet, recordEscapes, role,
  roleConfig, runRole, settledMemory, sleep, spawnRole, tell, type Memory,
} from "./util-load.js";

const FILE = fileURLToPath(import.meta.url);
const CHUNK = 64 * KiB;
const LIMIT = 1 * GiB;
const READ_RATE = 1 * MiB;

/** The bars: what "a few high-water marks" means here. */
const MAX_WRITABLE_LENGTH = 4 * CHUNK;
const MAX_USER_SPACE_IN_FLIGHT = 1 * MiB;
const MAX_HEAP_GROWTH = 16 * MiB;
const MAX_RSS_GROWTH = 64 * MiB;

type Kind = "tcp" | "tls" | "starttls";

interface WriterConfig {
  kind: Kind;
  url: string;
  ca: string;
  seconds: number;
  serverPort: number;
}

interface WriterReport {
  kind: Kind;
  written: number;
  writes: number;
  waitedForDrain: number;
  seconds: number;
  writableHighWaterMark: number;
  maxWritableLength: number;
  base: Memory;
  peak: Memory;
  final: Memory;
  kernel: { writerSendQueue: number; readerReceiveQueue: number };
  escapeCount: number;
  escapes: string[];
}

// ---------------------------------------------------------------- the writer (child)

async function writer(): Promise<void> {
  recordEscapes();
  const c = roleConfig<WriterConfig>();
  const socket = c.kind === "tcp" ? await connect(c.url, { timeout: 10_000 })
    : c.kind === "tls" ? await connect(c.url, { timeout: 10_000, tls: { ca: c.ca } })
    : await connect(c.url, { timeout: 10_000, startTls: "smtp", tls: { ca: c.ca } });
  const stream = socket.stream;
  const localPort = socket.local.port;
  const base = await settledMemory();
  const sampler = new PeakSampler(20, () => stream.writableLength);
  let written = 0;
  let writes = 0;
  let waitedForDrain = 0;
  let maxWritableLength = 0;
  const started = performance.now();
  const end = started + c.seconds * 1000;
  while (written < LIMIT && performance.now() < end) {
    const chunk = Buffer.allocUnsafe(CHUNK).fill(writes & 0xff);
    const done = socket.write(chunk);
    maxWritableLength = Math.max(maxWritableLength, stream.writableLength);
    if (stream.writableNeedDrain) waitedForDrain++;
    await done;
    written += CHUNK;
    writes++;
  }
  const seconds = (performance.now() - started) / 1000;
  const peak = sampler.stop();
  // The test process reads the kernel's queues (a large /proc/net/tcp would weigh on this
  // process's memory) and stops its reader; then this process collects and reports.
  await tell({ type: "stopped", localPort, written });
  const { kernel } = (await heard("kernel")) as unknown as { kernel: WriterReport["kernel"] };
  const final = await settledMemory();
  const report: WriterReport = {
    kind: c.kind, written, writes, waitedForDrain, seconds, writableHighWaterMark: stream.writableHighWaterMark,
    maxWritableLength: Math.max(maxWritableLength, peak.extra), base, peak, final, kernel,
    escapeCount: escapeCount(), escapes: escapes(),
  };
  await tell({ type: "report", report });
  socket.destroy();
}

// ---------------------------------------------------------------- the reader (this process)

/**
 * Reads at READ_RATE bytes/s (a token bucket started at the first byte) until `stop()`: the
 * writer stops at its deadline, but its last write may wait for the kernel to take more (Linux
 * reports a full send buffer writable again only once a third of it is free), so the reader goes
 * on until the writer says it stopped.
 */
function slowReader(s: Socket): { consumed: () => number; stop: () => void; done: Promise<void> } {
  let consumed = 0;
  let stopped = false;
  const done = (async () => {
    let start = 0;
    while (!stopped) {
      const elapsed = start === 0 ? 0 : (performance.now() - start) / 1000;
      const allowed = start === 0 ? 64 * KiB : Math.floor(elapsed * READ_RATE) - consumed;
      if (allowed <= 0) {
        await sleep(10);
        continue;
      }
      const chunk = await s.read(Math.min(allowed, 64 * KiB)).catch(() => null);
      if (chunk === null) break;
      if (start === 0) start = performance.now();
      consumed += chunk.length;
    }
  })();
  return { consumed: () => consumed, stop: () => void (stopped = true), done };
}

async function smtpUpgrade(s: Socket, cert: string, key: string): Promise<void> {
  await s.write("220 localhost ESMTP\r\n");
  await s.readLine();
  await s.write("250-localhost\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
  const command = await s.readLine();
  assert.equal(command, "STARTTLS");
  await s.write("220 2.0.0 go ahead\r\n");
  await s.startTls({ server: true, cert, key });
}

interface KindFigures {
  report: WriterReport;
  consumed: number;
  userSpaceInFlight: number;
}

async function runKind(kind: Kind, seconds: number): Promise<KindFigures> {
  const pki = await makePki();
  const server: Server = kind === "tls"
    ? await listen(`tls://${HOST}:0`, { tls: { cert: pki.valid.chain, key: pki.valid.key } })
    : await listen(`tcp://${HOST}:0`);
  const serverPort = "port" in server.address ? server.address.port : 0;
  const child = spawnRole(FILE, "bp-writer", { kind, url: server.url, ca: pki.caBundle, seconds, serverPort } satisfies WriterConfig, { exposeGc: true });
  let peer: Socket | undefined;
  try {
    peer = await server.accept({ timeout: 30_000 });
    if (kind === "starttls") await smtpUpgrade(peer, pki.valid.chain, pki.valid.key);
    const reader = slowReader(peer);
    const stopped = (await child.next("stopped", (seconds + 60) * 1000)) as unknown as { localPort: number };
    // Let the read in progress finish (the kernel holds plenty), so that nothing is counted twice or not at all.
    reader.stop();
    await reader.done;
    const consumed = reader.consumed();
    // What the kernel holds: the writer's send queue and the reader's receive queue.
    const mine = procNet("tcp", stopped.localPort).find((e) => e.remotePort === serverPort);
    const theirs = procNet("tcp", serverPort).find((e) => e.remotePort === stopped.localPort);
    child.send({ type: "kernel", kernel: { writerSendQueue: mine?.txQueue ?? 0, readerReceiveQueue: theirs?.rxQueue ?? 0 } });
    const { report } = (await child.next("report", 60_000)) as unknown as { report: WriterReport };
    const kernel = report.kernel.writerSendQueue + report.kernel.readerReceiveQueue;
    // What is left is in user space: the writer's writableLength and the reader's buffers (sockurl's
    // read buffer, up to its 64 KiB highWaterMark, and Node's). TLS adds ~22 bytes of record overhead
    // per 16 KiB to what the kernel holds: negligible here.
    return { report, consumed, userSpaceInFlight: report.written - consumed - kernel };
  } finally {
    peer?.destroy();
    child.kill();
    await child.exited(5_000);
    await server.close();
  }
}

if (role() === "bp-writer") {
  await runRole(writer);
} else {
  describe("load: backpressure to a 1 MiB/s reader", () => {
    const seconds = Number(process.env.LOAD_BP_SECONDS ?? 10);
    const all: Record<string, unknown> = {};
    for (const kind of ["tcp", "tls", "starttls"] as const) {
      it(`${kind}: a writer of up to 1 GiB stays within a few high-water marks for ${seconds} s`, { timeout: (seconds + 90) * 1000 }, async (t) => {
        const { report: r, consumed, userSpaceInFlight } = await runKind(kind, seconds);
        const figures = {
          kind,
          wrote: bytes(r.written), readerConsumed: bytes(consumed),
          kernelQueues: `writer send ${bytes(r.kernel.writerSendQueue)}, reader receive ${bytes(r.kernel.readerReceiveQueue)}`,
          userSpaceInFlight: bytes(userSpaceInFlight, true),
          maxWritableLength: bytes(r.maxWritableLength), writableHighWaterMark: bytes(r.writableHighWaterMark),
          writes: r.writes, waitedForDrain: r.waitedForDrain,
          peakGrowth: {
            rss: bytes(r.peak.rss - r.base.rss, true), heapUsed: bytes(r.peak.heapUsed - r.base.heapUsed, true),
            arrayBuffers: bytes(r.peak.arrayBuffers - r.base.arrayBuffers, true),
          },
          afterGcGrowth: { heapUsed: bytes(r.final.heapUsed - r.base.heapUsed, true), rss: bytes(r.final.rss - r.base.rss, true) },
          raw: { base: r.base, peak: r.peak, final: r.final, written: r.written, consumed, kernel: r.kernel, userSpaceInFlight },
        };
        all[kind] = figures;
        t.diagnostic(JSON.stringify(figures));
        keepFigures("load-backpressure", all);
        assert.equal(r.escapeCount, 0, r.escapes.join("\n"));
        assert.ok(r.maxWritableLength <= MAX_WRITABLE_LENGTH, `writableLength reached ${bytes(r.maxWritableLength)} (bar ${bytes(MAX_WRITABLE_LENGTH)})`);
        assert.ok(userSpaceInFlight <= MAX_USER_SPACE_IN_FLIGHT, `bytes written but neither read nor in the kernel: ${bytes(userSpaceInFlight)} (bar ${bytes(MAX_USER_SPACE_IN_FLIGHT)})`);
        assert.ok(r.peak.heapUsed - r.base.heapUsed <= MAX_HEAP_GROWTH, `heap grew ${bytes(r.peak.heapUsed - r.base.heapUsed)} (bar ${bytes(MAX_HEAP_GROWTH)})`);
        assert.ok(r.peak.rss - r.base.rss <= MAX_RSS_GROWTH, `RSS grew ${bytes(r.peak.rss - r.base.rss)} (bar ${bytes(MAX_RSS_GROWTH)})`);
        // Not vacuous: a reader really drained the connection all along. Half its pace leaves room
        // for a busy machine (the token bucket catches up after a stall, as long as bytes wait).
        assert.ok(consumed >= seconds * READ_RATE * 0.5, `the reader took ${bytes(consumed)} in ${seconds} s`);
      });
    }
  });
}
