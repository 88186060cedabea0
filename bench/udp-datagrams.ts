/**
 * udp-datagrams: 200,000 × 512-byte datagrams client → server over 127.0.0.1.
 * Unit: datagrams received per second, from the first send to the last arrival.
 *
 * UDP may drop, so the sender keeps at most WINDOW datagrams in flight (sent and not yet
 * received; client and server share this process, so the sender reads the receiver's
 * count directly, with no echo traffic). When nothing arrives for STALL_MS the datagrams
 * in flight are written off as lost and sending goes on; drops are reported in the note.
 *
 * sockurl: `connect("udp://…")` + `sendMany()` of the window's free room, one promise per
 *          burst; `listen("udp://…")` + `for await (const burst of server.batches())`: sockurl's
 *          API for moving datagrams at full rate.
 * sockurl, udp-datagrams-each (a comparison row, no bar): one `await send()` and one
 *          `for await` step per datagram, the convenient API, which pays a promise per datagram
 *          on each side.
 * baseline: `dgram` connected socket + `send(buf, callback)` (not awaited; the callback only
 *           checks for an error), bound socket + 'message'.
 */
import dgram from "node:dgram";
import { once } from "node:events";
import { connect, listen, type Datagram } from "../src/index.js";
import {
  HOST, RUN_TIMEOUT_MS, background, now, scaled, withTimeout,
  type Impl, type RunOptions, type Sample,
} from "./common.js";

const DATAGRAMS = 200_000;
const SIZE = 512;
/** Datagrams in flight at most: 64 × 512 B stays well inside the default 208 KiB receive buffer. */
const WINDOW = 64;
/** The sender resumes once the datagrams in flight fall to this. */
const LOW_WATER = WINDOW / 2;
/** No arrival for this long while waiting: the datagrams in flight are taken as lost. */
const STALL_MS = 20;
/** After the last send, arrivals are awaited until this much quiet time. */
const DRAIN_MS = 100;

/** The sender's pacing and the receiver's count, shared by both implementations. */
class Flow {
  sent = 0;
  received = 0;
  lost = 0;
  lastArrival = 0;
  #wake: (() => void) | null = null;
  /** Wake the waiting sender once no more than this many datagrams are in flight. */
  #wakeAt = 0;

  get inFlight(): number {
    return this.sent - this.received - this.lost;
  }

  /** Called by the receiver for each datagram. */
  arrived(): void {
    this.received++;
    this.lastArrival = now();
    if (this.#wake !== null && this.inFlight <= this.#wakeAt) {
      const wake = this.#wake;
      this.#wake = null;
      wake();
    }
  }

  /**
   * Resolves once at most `target` datagrams are in flight, or after `patience` ms; returns
   * whether any datagram arrived meanwhile.
   */
  async #until(target: number, patience: number): Promise<boolean> {
    const before = this.received;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wakeAt = target;
      this.#wake = resolve;
      timer = setTimeout(resolve, patience);
    });
    clearTimeout(timer);
    this.#wake = null;
    return this.received !== before;
  }

  /** Resolves when the sender may send again; a stalled window is written off as lost. */
  async room(): Promise<void> {
    if (this.inFlight < WINDOW) return;
    const progressed = await this.#until(LOW_WATER, STALL_MS);
    if (!progressed && this.inFlight >= WINDOW) this.lost += this.inFlight;
  }

  /** Waits until everything sent has arrived, or nothing arrived for DRAIN_MS. */
  async drain(): Promise<void> {
    while (this.inFlight > 0 && await this.#until(0, DRAIN_MS));
  }

  result(start: number): Sample {
    if (this.received === 0) throw new Error("udp-datagrams: nothing arrived");
    const seconds = (this.lastArrival - start) / 1000;
    const dropped = this.sent - this.received;
    return {
      value: this.received / seconds,
      note: dropped > 0 ? `${dropped} of ${this.sent} datagrams dropped` : "no datagram dropped",
    };
  }
}

export function udpDatagrams(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const n = scaled(DATAGRAMS, scale, WINDOW);
  const payload = Buffer.alloc(SIZE, 0x62);
  return impl === "sockurl" ? withSockurl(n, payload, "bursts") : withDgram(n, payload);
}

export function udpDatagramsEach(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const n = scaled(DATAGRAMS, scale, WINDOW);
  const payload = Buffer.alloc(SIZE, 0x62);
  return impl === "sockurl" ? withSockurl(n, payload, "each") : withDgram(n, payload);
}

function checkSize(datagram: Datagram): void {
  if (datagram.data.length !== SIZE) throw new Error(`udp-datagrams: got ${datagram.data.length} bytes`);
}

async function withSockurl(n: number, payload: Buffer, style: "bursts" | "each"): Promise<Sample> {
  const server = await listen(`udp://${HOST}:0`);
  const client = await connect(server.url as `udp://${string}`);
  const flow = new Flow();
  try {
    const receiving = background(style === "each"
      ? (async () => {
        for await (const datagram of server) {
          checkSize(datagram);
          flow.arrived();
        }
      })()
      : (async () => {
        for await (const burst of server.batches()) {
          for (const datagram of burst) {
            checkSize(datagram);
            flow.arrived();
          }
        }
      })());
    const start = now();
    await withTimeout((async () => {
      while (flow.sent < n) {
        await flow.room();
        if (style === "each") {
          await client.send(payload);
          flow.sent++;
        } else {
          const burst = new Array<Buffer>(Math.min(WINDOW - flow.inFlight, n - flow.sent)).fill(payload);
          const sending = client.sendMany(burst);
          flow.sent += burst.length;
          await sending;
        }
      }
      await flow.drain();
    })(), RUN_TIMEOUT_MS, `udp-datagrams sockurl to ${server.url}`);
    const sample = flow.result(start);
    await server.close();
    await receiving;
    return sample;
  } finally {
    await Promise.all([client.close(), server.close()]);
  }
}

async function withDgram(n: number, payload: Buffer): Promise<Sample> {
  const server = dgram.createSocket("udp4");
  const client = dgram.createSocket("udp4");
  const flow = new Flow();
  try {
    server.bind(0, HOST);
    await once(server, "listening");
    client.connect(server.address().port, HOST);
    await once(client, "connect");
    let failure: unknown = null;
    server.on("message", (msg) => {
      if (msg.length !== SIZE) failure ??= new Error(`udp-datagrams: got ${msg.length} bytes`);
      flow.arrived();
    });
    client.on("error", (err) => (failure ??= err));
    // Send errors arrive through the callback (without one, dgram drops them silently).
    const onSent = (err: Error | null): void => {
      if (err) failure ??= err;
    };
    const start = now();
    await withTimeout((async () => {
      while (flow.sent < n) {
        await flow.room();
        client.send(payload, onSent);
        flow.sent++;
      }
      await flow.drain();
    })(), RUN_TIMEOUT_MS, `udp-datagrams baseline to ${HOST}`);
    if (failure !== null) throw failure;
    return flow.result(start);
  } finally {
    client.close();
    server.close();
  }
}
