/**
 * A whois client (RFC 3912), ported line by line from PHP with sockurl/php. It asks one server
 * and follows one `refer:` line, as whois.iana.org answers.
 *
 * The PHP original:
 *
 * ```php
 * function whois_query(string $server, string $query, int $port = 43): string {
 *     $fp = fsockopen($server, $port, $errno, $errstr, 10);
 *     if (!$fp) throw new RuntimeException("$server: $errstr ($errno)");
 *     stream_set_timeout($fp, 10);
 *     fputs($fp, "$query\r\n");
 *     $out = "";
 *     while (!feof($fp)) {
 *         $line = fgets($fp, 1024);
 *         if ($line === false) {
 *             if (stream_get_meta_data($fp)["timed_out"]) throw new RuntimeException("$server: timed out");
 *             break;
 *         }
 *         $out .= $line;
 *     }
 *     fclose($fp);
 *     return $out;
 * }
 *
 * function whois(string $domain, string $server = "whois.iana.org", int $port = 43): string {
 *     $answer = whois_query($server, $domain, $port);
 *     if (preg_match('/^refer:\s*(\S+)/mi', $answer, $m) && $m[1] !== $server) {
 *         [$host, $p] = array_pad(explode(":", $m[1], 2), 2, $port);
 *         $answer = whois_query($host, $domain, (int)$p);
 *     }
 *     return $answer;
 * }
 * ```
 */
import { fclose, feof, fgets, fputs, fsockopen, ref, stream_get_meta_data, stream_set_timeout } from "sockurl/php";

export async function whoisQuery(server: string, query: string, port = 43): Promise<string> {
  const errno = ref(0), errstr = ref("");
  const fp = await fsockopen(server, port, errno, errstr, 10);
  if (!fp) throw new Error(`${server}: ${errstr.value} (${errno.value})`);
  stream_set_timeout(fp, 10);
  await fputs(fp, `${query}\r\n`);
  let out = "";
  while (!feof(fp)) {
    const line = await fgets(fp, 1024);
    if (line === false) {
      if (stream_get_meta_data(fp).timed_out) throw new Error(`${server}: timed out`);
      break;
    }
    out += line;
  }
  await fclose(fp);
  return out;
}

export async function whois(domain: string, server = "whois.iana.org", port = 43): Promise<string> {
  let answer = await whoisQuery(server, domain, port);
  const m = /^refer:\s*(\S+)/im.exec(answer);
  if (m && m[1] !== server) {
    const [host, p = String(port)] = m[1]!.split(":", 2);
    answer = await whoisQuery(host!, domain, Number.parseInt(p, 10));
  }
  return answer;
}
