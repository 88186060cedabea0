/**
 * Telnet START_TLS option (46, draft-altman-telnet-starttls): the server asks with
 * IAC DO START_TLS; the client agrees with IAC WILL START_TLS and IAC SB START_TLS FOLLOWS IAC SE;
 * the server answers IAC SB START_TLS FOLLOWS IAC SE, and TLS starts.
 *
 * Option negotiation (RFC 854/855): while waiting for DO START_TLS, every other option is refused
 * once — WONT for DO, DONT for WILL — so a server waiting on an answer does not stall; WONT/DONT,
 * subnegotiations of other options and other commands are ignored, and so is text (a banner).
 * After our FOLLOWS nothing more is sent (a byte there would be taken as the start of the TLS
 * handshake), so other negotiation is then only skipped. Reads are byte by byte, stopping exactly
 * after the server's IAC SE: anything it pipelines after it is left for the pending-data check.
 */
import type { Dialogue, Negotiator } from "./dialogue.js";

const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;
const START_TLS = 46;
const FOLLOWS = 1;
/** Most bytes read from the server before its FOLLOWS. */
const BUDGET = 16 * 1024;

type Event =
  | { kind: "data" }
  | { kind: "command"; command: number }
  | { kind: "option"; verb: number; option: number }
  | { kind: "sb"; option: number; payload: number[] };

const VERBS: Record<number, string> = { [DO]: "DO", [DONT]: "DONT", [WILL]: "WILL", [WONT]: "WONT" };

class TelnetReader {
  #left = BUDGET;
  #seen: number[] = [];
  constructor(private readonly d: Dialogue) {}

  async #byte(): Promise<number> {
    if (this.#left-- <= 0) {
      this.flush();
      throw this.d.protocolError(`no START_TLS negotiation within ${BUDGET} bytes`);
    }
    const [b] = await this.d.readBytes(1, false).catch((err: unknown) => {
      this.flush();
      throw err;
    });
    this.#seen.push(b!);
    return b!;
  }

  /** Records what was read since the last flush in the transcript. */
  flush(): void {
    if (this.#seen.length > 0) this.d.note(Buffer.from(this.#seen.splice(0)));
  }

  async next(): Promise<Event> {
    const b = await this.#byte();
    if (b !== IAC) return { kind: "data" };
    const command = await this.#byte();
    if (command === IAC) return { kind: "data" };
    if (command === DO || command === DONT || command === WILL || command === WONT) {
      return { kind: "option", verb: command, option: await this.#byte() };
    }
    if (command !== SB) return { kind: "command", command };
    const option = await this.#byte();
    const payload: number[] = [];
    for (;;) {
      const c = await this.#byte();
      if (c !== IAC) {
        payload.push(c);
        continue;
      }
      const after = await this.#byte();
      if (after === SE) return { kind: "sb", option, payload };
      if (after === IAC) payload.push(IAC);
      else throw this.d.protocolError(`IAC ${after} inside a subnegotiation of option ${option}`);
    }
  }
}

/** Telnet: wait for DO START_TLS, agree, FOLLOWS both ways. */
export const telnet: Negotiator = async (d) => {
  const reader = new TelnetReader(d);
  const answered = new Set<string>();
  for (;;) {
    const event = await reader.next();
    if (event.kind !== "option") continue;
    const { verb, option } = event;
    if (option === START_TLS && verb === DO) break;
    if (option === START_TLS && (verb === DONT || verb === WONT)) {
      reader.flush();
      return { unsupported: `the server sent IAC ${VERBS[verb]} START_TLS` };
    }
    if (verb === DO || verb === WILL) {
      const key = `${verb}:${option}`;
      if (answered.has(key)) continue;
      answered.add(key);
      reader.flush();
      await d.send(Buffer.from([IAC, verb === DO ? WONT : DONT, option]));
    }
  }
  reader.flush();
  await d.send(Buffer.from([IAC, WILL, START_TLS]));
  await d.send(Buffer.from([IAC, SB, START_TLS, FOLLOWS, IAC, SE]));
  for (;;) {
    const event = await reader.next();
    if (event.kind === "sb" && event.option === START_TLS) {
      reader.flush();
      if (event.payload.length === 1 && event.payload[0] === FOLLOWS) return "go";
      throw d.protocolError(`unexpected START_TLS subnegotiation ${Buffer.from(event.payload).toString("hex")}`);
    }
    if (event.kind === "option" && event.option === START_TLS && (event.verb === DONT || event.verb === WONT)) {
      reader.flush();
      return { unsupported: `the server answered START_TLS FOLLOWS with IAC ${VERBS[event.verb]} START_TLS` };
    }
    // Anything else (late negotiation of other options, text) is skipped without an answer.
  }
};
