/**
 * sockurl/php: PHP's socket stream functions for TypeScript, so that PHP networking code can be
 * ported line by line. Same names and argument order as PHP 8.2; functions that block in PHP
 * return promises; by-reference parameters are `ref()` objects; failures give `false` plus PHP's
 * warning (collected: see `error_get_last()`); strings are PHP byte strings, one char per byte
 * (see `toBinaryString`). The porting guide is docs/php.md.
 *
 * @example
 * ```ts
 * import { fsockopen, fgets, fwrite, fclose, ref } from "sockurl/php";
 * const errno = ref(0), errstr = ref("");
 * const fp = await fsockopen("whois.example", 43, errno, errstr, 10);
 * if (fp === false) throw new Error(`${errstr.value} (${errno.value})`);
 * await fwrite(fp, "example.com\r\n");
 * for (let line; (line = await fgets(fp)) !== false; ) process.stdout.write(line);
 * await fclose(fp);
 * ```
 */
export * from "./constants.js";
export {
  ref, ValueError, error_get_last, error_clear_last, php_warnings, set_error_handler, restore_error_handler,
  type Ref, type PhpError, type ErrorHandler,
} from "./warnings.js";
export { toBinaryString, fromBinaryString } from "./bytes.js";
export { PhpStream } from "./stream.js";
export { get_resource_type, is_resource } from "./resources.js";
export {
  PhpContext, stream_context_create, stream_context_set_option, stream_context_get_options, type PhpContextOptions,
} from "./context.js";
export { fsockopen, pfsockopen, stream_socket_client } from "./client.js";
export { stream_socket_server, stream_socket_accept } from "./server.js";
export { stream_socket_enable_crypto } from "./crypto.js";
export {
  stream_socket_recvfrom, stream_socket_sendto, stream_socket_shutdown, stream_socket_get_name, stream_socket_pair,
  stream_get_transports,
} from "./sockets.js";
export { stream_set_timeout, stream_set_blocking, stream_get_meta_data, type StreamMetaData } from "./meta.js";
export { stream_select, type SelectArray } from "./select.js";
export { fgets, fgetc, fread, fwrite, fputs, feof, fclose, stream_get_line, stream_get_contents } from "./io.js";
