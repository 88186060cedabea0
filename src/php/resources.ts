/**
 * get_resource_type and is_resource for the layer's resources (streams and contexts).
 */
import { PhpContext } from "./context.js";
import { PhpStream } from "./stream.js";

/**
 * PHP's `get_resource_type`: "stream", "stream-context", or "Unknown" for a closed stream.
 *
 * @example
 * ```ts
 * get_resource_type(fp); // "stream"
 * ```
 */
export function get_resource_type(resource: PhpStream | PhpContext): string {
  if (resource instanceof PhpStream) return resource.closed ? "Unknown" : "stream";
  if (resource instanceof PhpContext) return "stream-context";
  throw new TypeError(`get_resource_type(): Argument #1 ($resource) must be of type resource, ${resource === null ? "null" : typeof resource} given`);
}

/**
 * PHP's `is_resource`: true for an open stream or a context (false after fclose()).
 *
 * @example
 * ```ts
 * if (!is_resource(fp)) fp = await fsockopen(host, port);
 * ```
 */
export function is_resource(value: unknown): boolean {
  return (value instanceof PhpStream && !value.closed) || value instanceof PhpContext;
}
