/**
 * Load 4: a sockurl UDP receiver (`listen("udp://127.0.0.1:0")`, default receiveQueue of 1024)
 * flooded with 1,000,000 datagrams of 64 bytes from two sender processes (raw node:dgram, as fast
 * as they can), while its consumer is first absent (1 s), then slow (one datagram per ms, until the
 * senders are done and for at least 1 s), then drains. It must not crash, its queue must stay within receiveQueue and its memory bounded, and
 * what it received + what it `dropped` + what the kernel dropped must account for what was sent.
 *
 * The receiver is a child process (`--expose-gc`), measured alone. Kernel drops come from the
 * socket's drops column in /proc/net/udp (its receive buffer was full); drops before any socket,
 * in the per-CPU input backlog that loopback goes through, from /proc/net/softnet_stat.
 *
 * Reproduce: npm run build && node --test dist/test/stress/load-udp-flood.test.js
 * (LOAD_UDP_DATAGRAMS changes the count.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { fileURLToPath } from "node:url";
import { listen, SocketError } from "../../src/index.js";
import {
  HOST, MiB, PeakSampler, bytes, escapeCount, escapes, heard, keepFigures, procNet, recordEscapes, role, roleConfig,
  runRole, settledMemory, sleep, softnetDrops, spawnRole, tell, udpSnmp, type Memory,
} from "./util-load.js";

const FILE = fileURLToPath(import.meta.url);
const RECEIVE_QUEUE = 1024; // sockurl's default, which the receiver keeps
const SIZE = 64;
const SENDERS = 2;
const ABSENT_MS = 1_000;
const MIN_SLOW_MS = 1_000;

interface ReceiverReport {
  received: number;
  dropped: number;
  kernelDrops: number;
  kernelQueueAtEnd: number;
  queuedWhenConsumerCameBack: number;
  phases: { absent: number; slow: number; drain: number };
  base: Memory;
  fullQueue: Memory;
  peak: Memory;
  final: Memory;
  escapeCount: number;
  escapes: string[];
}

// ---------------------------------------------------------------- receiver (child)

async function receiver(): Promise<void> {
  recordEscapes();
  const sock = await listen(`udp://${HOST}:0`);
  const port = sock.local.port;
  const base = await settledMemory();
  const sampler = new PeakSampler(25);
  await tell({ type: "listening", port });
  await heard("flood");

  // Absent: nobody calls receive().
  await sleep(ABSENT_MS);
  const fullQueue = await settledMemory();

  // Back: how many datagrams were waiting? Take them without giving I/O a turn (only microtasks
  // run between the takes, so nothing new arrives): that is the queue's length.
  let received = 0;
  const take = () => sock.receive().then(() => void received++);
  let queued = 0;
  sock.readTimeout = 2_000;
  for (;;) {
    const before = received;
    const p = take();
    for (let i = 0; i < 4; i++) await null;
    if (received === before) {
      await p.catch(() => {});
      break;
    }
    queued++;
  }
  const phases = { absent: 0, slow: 0, drain: 0 };
  phases.absent = received;

  // Slow: one datagram per millisecond or so, until the senders are done (and for at least MIN_SLOW_MS).
  let sendersDone = false;
  void heard("senders-done").then(() => void (sendersDone = true));
  const slowUntil = performance.now() + MIN_SLOW_MS;
  while (!sendersDone || performance.now() < slowUntil) {
    try {
      await take();
    } catch (err) {
      if (!(err instanceof SocketError && err.code === "ETIMEDOUT")) throw err;
    }
    await sleep(1);
  }
  phases.slow = received - phases.absent;

  // Drain until a second passes without a datagram.
  sock.readTimeout = 1_000;
  for (;;) {
    try {
      await take();
    } catch (err) {
      if (err instanceof SocketError && err.code === "ETIMEDOUT") break;
      throw err;
    }
  }
  phases.drain = received - phases.absent - phases.slow;
  const entry = procNet("udp", port)[0];
  const peak = sampler.stop();
  const final = await settledMemory();
  const report: ReceiverReport = {
    received, dropped: sock.dropped, kernelDrops: entry?.drops ?? -1, kernelQueueAtEnd: entry?.rxQueue ?? -1,
    queuedWhenConsumerCameBack: queued, phases, base, fullQueue, peak, final,
    escapeCount: escapeCount(), escapes: escapes(),
  };
  await sock.close();
  await tell({ type: "report", report });
}

// ---------------------------------------------------------------- sender (child, raw node:dgram)

async function sender(): Promise<void> {
  const { port, count, window } = roleConfig<{ port: number; count: number; window: number }>();
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const payload = Buffer.alloc(SIZE, 0x61);
  let sent = 0;
  const errors: Record<string, number> = {};
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let issued = 0;
    let settled = 0;
    const pump = () => {
      while (issued < count && issued - settled < window) {
        issued++;
        socket.send(payload, port, HOST, (err) => {
          settled++;
          if (err) errors[String((err as { code?: string }).code)] = (errors[String((err as { code?: string }).code)] ?? 0) + 1;
          else sent++;
          if (settled === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  socket.close();
  await tell({ type: "sent", sent, errors, seconds });
}

// ---------------------------------------------------------------- the test

if (role() === "udp-receiver") {
  await runRole(receiver);
} else if (role() === "udp-sender") {
  await runRole(sender);
} else {
  describe("load: UDP flood", () => {
    it("1,000,000 datagrams to a slow or absent consumer: no crash, bounded queue and memory, every datagram accounted for", { timeout: 240_000 }, async (t) => {
      const total = Number(process.env.LOAD_UDP_DATAGRAMS ?? 1_000_000);
      const rx = spawnRole(FILE, "udp-receiver", {}, { exposeGc: true });
      const senders: ReturnType<typeof spawnRole>[] = [];
      try {
        const { port } = (await rx.next("listening", 30_000)) as unknown as { port: number };
        const softnetBefore = softnetDrops();
        const snmpBefore = udpSnmp();
        const started = performance.now();
        for (let i = 0; i < SENDERS; i++) {
          senders.push(spawnRole(FILE, "udp-sender", { port, count: Math.floor(total / SENDERS) + (i === 0 ? total % SENDERS : 0), window: 512 }));
        }
        rx.send({ type: "flood" });
        const sentReports = (await Promise.all(senders.map((s) => s.next("sent", 180_000)))) as unknown as Array<{ sent: number; errors: Record<string, number>; seconds: number }>;
        const floodSeconds = (performance.now() - started) / 1000;
        rx.send({ type: "senders-done" });
        const { report: r } = (await rx.next("report", 120_000)) as unknown as { report: ReceiverReport };
        const softnet = softnetDrops() - softnetBefore;
        const snmpAfter = udpSnmp();
        assert.equal(await rx.exited(), 0, "the receiver exited cleanly");

        const sent = sentReports.reduce((n, s) => n + s.sent, 0);
        const sendErrors = sentReports.reduce((n, s) => n + Object.values(s.errors).reduce((a, b) => a + b, 0), 0);
        const accounted = r.received + r.dropped + r.kernelDrops;
        const figures = {
          datagrams: total, size: SIZE, senders: SENDERS, sent, sendErrors, floodSeconds: Number(floodSeconds.toFixed(1)),
          sendRate: Math.round(sent / floodSeconds),
          received: r.received, receivedByPhase: r.phases, droppedBySockurl: r.dropped, droppedByKernel: r.kernelDrops,
          softnetBacklogDrops: softnet, unaccounted: sent - accounted,
          queueWhenConsumerCameBack: r.queuedWhenConsumerCameBack, receiveQueue: RECEIVE_QUEUE,
          snmp: { InDatagrams: snmpAfter.InDatagrams! - snmpBefore.InDatagrams!, RcvbufErrors: snmpAfter.RcvbufErrors! - snmpBefore.RcvbufErrors!, InErrors: snmpAfter.InErrors! - snmpBefore.InErrors! },
          memory: {
            heapWithFullQueue: bytes(r.fullQueue.heapUsed - r.base.heapUsed, true),
            peakHeap: bytes(r.peak.heapUsed - r.base.heapUsed, true),
            peakRss: bytes(r.peak.rss - r.base.rss, true),
            heapAfter: bytes(r.final.heapUsed - r.base.heapUsed, true),
          },
          raw: { base: r.base, fullQueue: r.fullQueue, peak: r.peak, final: r.final },
        };
        t.diagnostic(JSON.stringify(figures));
        keepFigures("load-udp-flood", figures);

        assert.equal(r.escapeCount, 0, r.escapes.join("\n"));
        assert.equal(sendErrors, 0, JSON.stringify(sentReports.map((s) => s.errors)));
        assert.ok(r.queuedWhenConsumerCameBack <= RECEIVE_QUEUE, `${r.queuedWhenConsumerCameBack} datagrams were queued (receiveQueue ${RECEIVE_QUEUE})`);
        assert.ok(r.fullQueue.heapUsed - r.base.heapUsed <= 4 * MiB, `a full queue took ${bytes(r.fullQueue.heapUsed - r.base.heapUsed)} of heap`);
        assert.ok(r.peak.heapUsed - r.base.heapUsed <= 32 * MiB, `the heap peaked ${bytes(r.peak.heapUsed - r.base.heapUsed)} above its start`);
        assert.equal(r.kernelQueueAtEnd, 0, "nothing left in the kernel's queue after the drain");
        // Every datagram is received, dropped by sockurl, or dropped by the kernel (at the socket,
        // or before it in the input backlog, which /proc/net/softnet_stat counts for the whole host).
        assert.ok(accounted <= sent, `more accounted (${accounted}) than sent (${sent})`);
        assert.ok(sent - accounted <= softnet, `${sent - accounted} datagrams unaccounted for (softnet backlog drops: ${softnet})`);
      } finally {
        for (const s of senders) s.kill();
        rx.kill();
      }
    });
  });
}
