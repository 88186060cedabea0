// Types for the parts of the `unix-dgram` package sockurl uses (it ships none).
declare module "unix-dgram" {
  import { EventEmitter } from "node:events";
  interface UnixDgramSocket extends EventEmitter {
    bind(path: string): void;
    connect(path: string): void;
    send(buf: Buffer, callback?: (err?: Error & { code?: number }) => void): void;
    send(buf: Buffer, offset: number, length: number, path: string, callback?: (err?: Error & { code?: number }) => void): void;
    close(): void;
    on(event: "message", fn: (buf: Buffer, rinfo: { size: number; path?: string }) => void): this;
    on(event: "error", fn: (err: Error & { code?: number; errno?: number; syscall?: string }) => void): this;
    on(event: string, fn: (...args: any[]) => void): this;
  }
  export function createSocket(type: "unix_dgram", listener?: (buf: Buffer) => void): UnixDgramSocket;
  const _default: { createSocket: typeof createSocket };
  export default _default;
}
