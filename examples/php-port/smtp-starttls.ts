/**
 * An SMTP client with STARTTLS, ported line by line from PHP with sockurl/php.
 *
 * The PHP original:
 *
 * ```php
 * function smtp_send(string $host, int $port, string $from, string $to, string $message, string $cafile): array {
 *     $log = [];
 *     $fp = stream_socket_client("tcp://$host:$port", $errno, $errstr, 10);
 *     if ($fp === false) throw new RuntimeException("connect: $errstr ($errno)");
 *     stream_set_timeout($fp, 10);
 *     $expect = function (string $code) use ($fp, &$log): string {
 *         $reply = "";
 *         while (($line = fgets($fp, 515)) !== false) {
 *             $reply .= $line;
 *             if (substr($line, 3, 1) !== "-") break;      // last line of a multi-line reply
 *         }
 *         $log[] = "S: " . rtrim($reply);
 *         if (substr($reply, 0, 3) !== $code) throw new RuntimeException("expected $code, got: " . rtrim($reply));
 *         return $reply;
 *     };
 *     $send = function (string $line) use ($fp, &$log) { $log[] = "C: $line"; fwrite($fp, "$line\r\n"); };
 *
 *     $expect("220");
 *     $send("EHLO client.example");
 *     $ehlo = $expect("250");
 *     if (strpos($ehlo, "STARTTLS") === false) throw new RuntimeException("no STARTTLS");
 *     $send("STARTTLS");
 *     $expect("220");
 *     stream_context_set_option($fp, "ssl", "cafile", $cafile);
 *     stream_context_set_option($fp, "ssl", "peer_name", $host === "127.0.0.1" ? "localhost" : $host);
 *     if (stream_socket_enable_crypto($fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT) !== true)
 *         throw new RuntimeException("TLS: " . error_get_last()["message"]);
 *     $log[] = "-- TLS " . stream_get_meta_data($fp)["crypto"]["protocol"];
 *     $send("EHLO client.example");
 *     $expect("250");
 *     $send("MAIL FROM:<$from>");
 *     $expect("250");
 *     $send("RCPT TO:<$to>");
 *     $expect("250");
 *     $send("DATA");
 *     $expect("354");
 *     $body = preg_replace('/^\./m', '..', str_replace(["\r\n", "\n"], ["\n", "\r\n"], $message));
 *     fwrite($fp, $body . "\r\n.\r\n");
 *     $expect("250");
 *     $send("QUIT");
 *     $expect("221");
 *     fclose($fp);
 *     return $log;
 * }
 * ```
 */
import {
  error_get_last, fclose, fgets, ref, stream_context_set_option, stream_get_meta_data, stream_set_timeout,
  stream_socket_client, stream_socket_enable_crypto, fwrite, STREAM_CRYPTO_METHOD_TLS_CLIENT, toBinaryString,
} from "sockurl/php";

export async function smtpSend(host: string, port: number, from: string, to: string, message: string, cafile: string): Promise<string[]> {
  const log: string[] = [];
  const errno = ref(0), errstr = ref("");
  const fp = await stream_socket_client(`tcp://${host}:${port}`, errno, errstr, 10);
  if (fp === false) throw new Error(`connect: ${errstr.value} (${errno.value})`);
  stream_set_timeout(fp, 10);
  const expect = async (code: string): Promise<string> => {
    let reply = "";
    let line: string | false;
    while ((line = await fgets(fp, 515)) !== false) {
      reply += line;
      if (line.substring(3, 4) !== "-") break; // last line of a multi-line reply
    }
    log.push(`S: ${reply.trimEnd()}`);
    if (reply.substring(0, 3) !== code) throw new Error(`expected ${code}, got: ${reply.trimEnd()}`);
    return reply;
  };
  const send = async (line: string) => {
    log.push(`C: ${line}`);
    await fwrite(fp, `${line}\r\n`);
  };

  await expect("220");
  await send("EHLO client.example");
  const ehlo = await expect("250");
  if (!ehlo.includes("STARTTLS")) throw new Error("no STARTTLS");
  await send("STARTTLS");
  await expect("220");
  stream_context_set_option(fp, "ssl", "cafile", cafile);
  stream_context_set_option(fp, "ssl", "peer_name", host === "127.0.0.1" ? "localhost" : host);
  if ((await stream_socket_enable_crypto(fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT)) !== true) {
    throw new Error(`TLS: ${error_get_last()?.message}`);
  }
  log.push(`-- TLS ${String(stream_get_meta_data(fp).crypto?.protocol)}`);
  await send("EHLO client.example");
  await expect("250");
  await send(`MAIL FROM:<${from}>`);
  await expect("250");
  await send(`RCPT TO:<${to}>`);
  await expect("250");
  await send("DATA");
  await expect("354");
  // PHP strings are bytes: the message text goes out as UTF-8, as a UTF-8 PHP file would send it.
  const body = toBinaryString(message).replace(/\r\n/g, "\n").replace(/\n/g, "\r\n").replace(/^\./gm, "..");
  await fwrite(fp, `${body}\r\n.\r\n`);
  await expect("250");
  await send("QUIT");
  await expect("221");
  await fclose(fp);
  return log;
}
