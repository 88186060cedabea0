/**
 * The plaintext half of a STARTTLS negotiation: reads with a deadline, a line-length and a
 * line-count limit, a transcript of both directions, and the errors every protocol shares.
 */
import type { Socket } from "../socket.js";
import { SocketError, socketError } from "../errors.js";

/** One line (or binary message, hex-encoded) of the plaintext exchange. */
export interface TranscriptEntry {
  from: "client" | "server";
  text: string;
}

/** Limits of one negotiation. */
export interface DialogueLimits {
  /** Deadline for the whole negotiation, as a `performance.now()` timestamp. */
  deadline: number;
  /** Longest reply line accepted, in bytes (SMTP allows 512; default 4096). */
  maxLineLength: number;
  /** Most reply lines accepted in the whole negotiation (default 256). */
  maxLines: number;
}

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
    await this.#timed(() => this.socket.write(data));
  }

  /** The next reply line, without its line end; ERR_PROTOCOL at end of stream. */
  async readLine(): Promise<string> {
    if (++this.#lines > this.#limits.maxLines) {
      throw this.protocolError(`the server sent more than ${this.#limits.maxLines} lines`);
    }
    const line = await this.#timed(() => this.socket.readLine({ maxLength: this.#limits.maxLineLength }));
    if (line === null) throw this.protocolError("the server closed the connection");
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

  /** Exactly `n` bytes (binary protocols), recorded as hex. */
  async readBytes(n: number): Promise<Buffer> {
    const bytes = await this.#timed(() => this.socket.readExactly(n)).catch((err: unknown) => {
      if (err instanceof SocketError && err.code === "ERR_UNEXPECTED_EOF") throw this.protocolError("the server closed the connection");
      throw err;
    });
    this.transcript.push({ from: "server", text: hex(bytes) });
    return bytes;
  }

  /** Bytes up to and including `marker`, at most `max` bytes (XMPP stream features). */
  async readUntil(marker: string | RegExp, max: number): Promise<string> {
    let text = "";
    for (;;) {
      const chunk = await this.#timed(() => this.socket.read(max - text.length));
      if (chunk === null) throw this.protocolError("the server closed the connection");
      text += chunk.toString("utf8");
      if (typeof marker === "string" ? text.includes(marker) : marker.test(text)) break;
      if (text.length >= max) throw this.protocolError(`no ${String(marker)} within ${max} bytes`);
    }
    this.transcript.push({ from: "server", text });
    return text;
  }

  /** ERR_PROTOCOL: the server said something the protocol does not allow here. */
  protocolError(text: string): SocketError {
    return socketError("ERR_PROTOCOL", "starttls", this.socket.url, text);
  }

  /** ERR_STARTTLS_UNSUPPORTED: the server does not offer STARTTLS, or refused it. */
  unsupported(text: string): SocketError {
    return socketError("ERR_STARTTLS_UNSUPPORTED", "starttls", this.socket.url, text);
  }

  async #timed<T>(step: () => Promise<T>): Promise<T> {
    const left = Math.ceil(this.#limits.deadline - performance.now());
    if (left <= 0) throw this.#timeout();
    const before = this.socket.readTimeout;
    this.socket.readTimeout = left;
    let timer: NodeJS.Timeout | undefined;
    try {
      // readTimeout covers reads; the race covers a write stuck behind a peer that never reads.
      return await Promise.race([
        step(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(this.#timeout()), left);
        }),
      ]);
    } catch (err) {
      if (err instanceof SocketError && err.code === "ETIMEDOUT") throw this.#timeout();
      throw err;
    } finally {
      clearTimeout(timer);
      this.socket.readTimeout = before;
    }
  }

  #timeout(): SocketError {
    return socketError("ETIMEDOUT", "starttls", this.socket.url, "the STARTTLS negotiation did not finish in time");
  }
}

function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}
