/**
 * A UDP query client: a DNS A-record lookup (RFC 1035) ported line by line from PHP with
 * sockurl/php. The packet is built and parsed as a PHP byte string (one char per byte).
 *
 * The PHP original:
 *
 * ```php
 * function dns_query_a(string $server, int $port, string $name, float $timeout = 2.0): array {
 *     $id = random_int(0, 0xffff);
 *     $qname = "";
 *     foreach (explode(".", rtrim($name, ".")) as $label) $qname .= chr(strlen($label)) . $label;
 *     $packet = pack("nnnnnn", $id, 0x0100, 1, 0, 0, 0) . $qname . "\0" . pack("nn", 1, 1);
 *     $fp = fsockopen("udp://$server", $port, $errno, $errstr, $timeout);
 *     if (!$fp) throw new RuntimeException("$errstr ($errno)");
 *     stream_set_timeout($fp, (int)$timeout, (int)(fmod($timeout, 1) * 1e6));
 *     fwrite($fp, $packet);
 *     $reply = fread($fp, 512);
 *     $meta = stream_get_meta_data($fp);
 *     fclose($fp);
 *     if ($reply === false || $reply === "") throw new RuntimeException($meta["timed_out"] ? "timed out" : "no reply");
 *     $h = unpack("nid/nflags/nqd/nan/nns/nar", $reply);
 *     if ($h["id"] !== $id) throw new RuntimeException("reply for another query");
 *     if (($h["flags"] & 0x000f) !== 0) throw new RuntimeException("rcode " . ($h["flags"] & 0xf));
 *     $at = 12;
 *     for ($i = 0; $i < $h["qd"]; $i++) { $at = skip_name($reply, $at) + 4; }
 *     $out = [];
 *     for ($i = 0; $i < $h["an"]; $i++) {
 *         $at = skip_name($reply, $at);
 *         $rr = unpack("ntype/nclass/Nttl/nlen", $reply, $at);
 *         $at += 10;
 *         if ($rr["type"] === 1 && $rr["len"] === 4) $out[] = inet_ntop(substr($reply, $at, 4));
 *         $at += $rr["len"];
 *     }
 *     return $out;
 * }
 *
 * function skip_name(string $p, int $at): int {
 *     while (true) {
 *         $len = ord($p[$at]);
 *         if ($len === 0) return $at + 1;
 *         if (($len & 0xc0) === 0xc0) return $at + 2;     // compression pointer
 *         $at += $len + 1;
 *     }
 * }
 * ```
 */
import { fclose, fread, fsockopen, fwrite, ref, stream_get_meta_data, stream_set_timeout } from "sockurl/php";

/** PHP's pack("n", …): a 16-bit big-endian byte string. */
const n16 = (v: number) => String.fromCharCode((v >> 8) & 0xff, v & 0xff);
/** PHP's unpack("n", …) / unpack("N", …) at an offset. */
const u16 = (s: string, at: number) => (s.charCodeAt(at) << 8) | s.charCodeAt(at + 1);
const u32 = (s: string, at: number) => u16(s, at) * 0x10000 + u16(s, at + 2);

export function skipName(p: string, at: number): number {
  for (;;) {
    const len = p.charCodeAt(at);
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2; // compression pointer
    at += len + 1;
  }
}

export async function dnsQueryA(server: string, port: number, name: string, timeout = 2.0): Promise<string[]> {
  const id = Math.floor(Math.random() * 0x10000);
  let qname = "";
  for (const label of name.replace(/\.$/, "").split(".")) qname += String.fromCharCode(label.length) + label;
  const packet = n16(id) + n16(0x0100) + n16(1) + n16(0) + n16(0) + n16(0) + qname + "\0" + n16(1) + n16(1);
  const errno = ref(0), errstr = ref("");
  const fp = await fsockopen(`udp://${server}`, port, errno, errstr, timeout);
  if (!fp) throw new Error(`${errstr.value} (${errno.value})`);
  stream_set_timeout(fp, Math.trunc(timeout), Math.trunc((timeout % 1) * 1e6));
  await fwrite(fp, packet);
  const reply = await fread(fp, 512);
  const meta = stream_get_meta_data(fp);
  await fclose(fp);
  if (reply === false || reply === "") throw new Error(meta.timed_out ? "timed out" : "no reply");
  const h = { id: u16(reply, 0), flags: u16(reply, 2), qd: u16(reply, 4), an: u16(reply, 6) };
  if (h.id !== id) throw new Error("reply for another query");
  if ((h.flags & 0x000f) !== 0) throw new Error(`rcode ${h.flags & 0xf}`);
  let at = 12;
  for (let i = 0; i < h.qd; i++) at = skipName(reply, at) + 4;
  const out: string[] = [];
  for (let i = 0; i < h.an; i++) {
    at = skipName(reply, at);
    const rr = { type: u16(reply, at), class: u16(reply, at + 2), ttl: u32(reply, at + 4), len: u16(reply, at + 8) };
    at += 10;
    if (rr.type === 1 && rr.len === 4) out.push([0, 1, 2, 3].map((k) => reply.charCodeAt(at + k)).join("."));
    at += rr.len;
  }
  return out;
}
