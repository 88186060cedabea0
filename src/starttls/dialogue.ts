/**
 * The plaintext half of a STARTTLS negotiation: reads and writes inside one deadline, a
 * line-length and a line-count limit, a transcript of both directions, and the errors every
 * protocol shares.
 */
import type { Deadline } from "../deadline.js";
import { inPhase, SocketError, socketError } from "../errors.js";
import type { Socket } from "../socket.js";
import type { TranscriptEntry } from "./types.js";

/** What a negotiator knows about the connection. */
export interface NegotiationContext {
  /** The name this client gives (EHLO/LHLO argument); default "localhost". */
  clientName: string;
  /** The server's name (XMPP `to=`); the URL host, or `tls.peerName` when set. */
  serverName: string;
}

/**
 * A protocol's plaintext dialogue up to the server's go-ahead. Returns "go" when the server
 * agreed (the TLS handshake follows at once), or `{ unsupported }` when STARTTLS is not offered
 * or was refused. Anything else the server says that the protocol does not allow: throw
 * `d.protocolError(…)`.
 */
export type Negotiator = (d: Dialogue, ctx: NegotiationContext) => Promise<"go" | { unsupported: string }>;

/** Limits of one negotiation. */
export interface DialogueLimits {
  /** The whole negotiation's deadline (phase starttls). */
  deadline: Deadline;
  /** Longest reply line accepted, in bytes. */
  maxLineLength: number;
  /** Most reply lines accepted in the whole negotiation. */
  maxLines: number;
}

/** Each step waits as long as the negotiation's deadline allows, whatever the socket's own defaults. */
const NO_CALL_LIMIT = Object.freeze({ timeout: 0 });

/**
 * A plaintext exchange on a Socket, for protocol negotiators.
 *
 * @example
 * ```ts
 * const greeting = await dialogue.readReply((line) => line[3] === "-");
 * await dialogue.send("EHLO client.example\r\n");
 * ```
 */
export class Dialogue {
  readonly socket: Socket;
  readonly transcript: TranscriptEntry[] = [];
  readonly #limits: DialogueLimits;
  #lines = 0;

  constructor(socket: Socket, limits: DialogueLimits) {
    this.socket = socket;
    this.#limits = limits;
  }

  /** Sends a command (text is recorded as sent, without its line end). */
  async send(data: string | Uint8Array): Promise<void> {
    this.transcript.push({ from: "client", text: typeof data === "string" ? data.replace(/\r?\n$/, "") : hex(data) });
    await this.#timed(this.socket.write(data, NO_CALL_LIMIT));
  }

  /**
   * The next reply line, without its LF or CRLF. ERR_PROTOCOL at end of stream, and also when
   * the stream ends inside a line (a truncated reply is never taken for a whole one);
   * ERR_LINE_TOO_LONG past maxLineLength bytes.
   */
  async readLine(): Promise<string> {
    if (++this.#lines > this.#limits.maxLines) {
      throw this.protocolError(`the server sent more than ${this.#limits.maxLines} lines`);
    }
    const max = this.#limits.maxLineLength;
    const tooLong = (cause?: unknown) => socketError("ERR_LINE_TOO_LONG", "starttls", this.socket.url,
      `a reply line is longer than maxLineLength ${max} bytes`, { cause });
    // readUntil, not readLine: readLine returns an unterminated tail at end of stream as a line.
    const raw = await this.#timed(this.socket.readUntil("\n", { maxLength: max + 1, timeout: 0 })).catch((err: unknown) => {
      if (err instanceof SocketError && err.code === "ERR_LINE_TOO_LONG") throw tooLong(err);
      if (err instanceof SocketError && err.code === "ERR_UNEXPECTED_EOF") {
        throw this.protocolError("the server closed the connection in the middle of a line");
      }
      throw err;
    });
    if (raw === null) throw this.protocolError("the server closed the connection");
    const end = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.length - 1 : raw.length;
    if (end > max) throw tooLong();
    const line = raw.toString("utf8", 0, end);
    this.transcript.push({ from: "server", text: line });
    return line;
  }

  /**
   * A reply of one or more lines: reads while `continues(line)` says another line follows
   * (SMTP/FTP `250-`, `220-`), and returns them all.
   */
  async readReply(continues: (line: string) => boolean): Promise<string[]> {
    const lines = [await this.readLine()];
    while (continues(lines[lines.length - 1]!)) lines.push(await this.readLine());
    return lines;
  }

  /**
   * Exactly `n` bytes (binary protocols), recorded as hex unless `record` is false (then the
   * caller records the whole message with `note()`).
   */
  async readBytes(n: number, record = true): Promise<Buffer> {
    const bytes = await this.#timed(this.socket.readExactly(n, NO_CALL_LIMIT)).catch((err: unknown) => {
      if (err instanceof SocketError && err.code === "ERR_UNEXPECTED_EOF") throw this.protocolError("the server closed the connection");
      throw err;
    });
    if (bytes === null) throw this.protocolError("the server closed the connection");
    if (record) this.transcript.push({ from: "server", text: hex(bytes) });
    return bytes;
  }

  /**
   * Bytes up to and including `delimiter`, never one byte past it (what follows stays in the
   * socket's buffer, for the pending-data check before the handshake); at most `maxLength`
   * bytes before the delimiter (else ERR_PROTOCOL). Not recorded: see `note()`.
   */
  async readThrough(delimiter: string, maxLength: number): Promise<string> {
    if (maxLength <= 0) throw this.protocolError(`no ${JSON.stringify(delimiter)} within the byte limit`);
    const record = await this.#timed(this.socket.readUntil(delimiter, { maxLength, timeout: 0 })).catch((err: unknown) => {
      if (err instanceof SocketError && err.code === "ERR_UNEXPECTED_EOF") throw this.protocolError("the server closed the connection");
      if (err instanceof SocketError && err.code === "ERR_LINE_TOO_LONG") {
        throw this.protocolError(`no ${JSON.stringify(delimiter)} within ${maxLength} bytes`);
      }
      throw err;
    });
    if (record === null) throw this.protocolError("the server closed the connection");
    return record.toString("utf8") + delimiter;
  }

  /** Records what the server sent (text, or bytes as hex) when it was read unrecorded. */
  note(data: string | Uint8Array): void {
    this.transcript.push({ from: "server", text: typeof data === "string" ? data : hex(data) });
  }

  /** ERR_PROTOCOL: the server said something the protocol does not allow here. */
  protocolError(text: string): SocketError {
    return socketError("ERR_PROTOCOL", "starttls", this.socket.url, text);
  }

  /** ERR_STARTTLS_UNSUPPORTED: the server does not offer STARTTLS, or refused it. */
  unsupported(text: string): SocketError {
    return socketError("ERR_STARTTLS_UNSUPPORTED", "starttls", this.socket.url, text);
  }

  /**
   * One step of the dialogue inside the negotiation's deadline. When the deadline passes the
   * socket is destroyed (the negotiation has failed; nothing more may be read from it), which
   * also ends the step. A reset or a close during the step is a failure of the starttls phase.
   */
  async #timed<T>(step: Promise<T>): Promise<T> {
    try {
      return await this.#limits.deadline.race(step, () => this.socket.destroy());
    } catch (err) {
      throw err instanceof SocketError ? inPhase(err, "starttls") : err;
    }
  }
}

function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}
