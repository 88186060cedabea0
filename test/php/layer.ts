/**
 * Loads the layer under test, `sockurl/php`, and the hooks the harness needs from it: warnings
 * routed into a twin's log, and recognising its resources.
 *
 * The module is imported by its package name (the self-dependency in node_modules resolves it
 * through package.json "exports"); while that subpath is not exported yet, the compiled file
 * dist/src/php/index.js is imported directly and `via` says so.
 */
import type { LayerHooks, PhpLayer } from "./harness.js";

export interface LoadedLayer {
  php: PhpLayer | null;
  hooks: LayerHooks;
  via: string;
  error: string | null;
}

const LEVELS: Record<number, string> = { 2: "E_WARNING", 8: "E_NOTICE", 512: "E_USER_WARNING", 1024: "E_USER_NOTICE", 8192: "E_DEPRECATED" };

export async function loadLayer(): Promise<LoadedLayer> {
  let php: PhpLayer | null = null;
  let via = "sockurl/php";
  let error: string | null = null;
  const specifier: string = "sockurl/php";
  try {
    php = (await import(specifier)) as PhpLayer;
  } catch (first) {
    via = "dist/src/php/index.js (package.json does not export ./php yet)";
    try {
      const relative: string = "../../src/php/index.js";
      php = (await import(relative)) as PhpLayer;
    } catch (second) {
      error = `sockurl/php could not be loaded: ${(first as Error).message}; ${(second as Error).message}`;
    }
  }
  const hooks = hooksFor(php);
  return { php, hooks, via, error };
}

/** The harness hooks for a module shaped like sockurl/php (the layer, or test/php/bridge.ts). */
export function hooksFor(php: PhpLayer | null): LayerHooks {
  return {
    captureWarnings(sink) {
      if (!php || typeof php.set_error_handler !== "function") return () => {};
      php.set_error_handler((level: number, message: string) => {
        sink(message, LEVELS[level] ?? String(level));
        return true;
      });
      return () => {
        php.restore_error_handler?.();
      };
    },
    resourceType(value) {
      if (!php || value === null || typeof value !== "object") return null;
      const name = (value as object).constructor?.name ?? "";
      if (/x509|certificate/i.test(name)) return "#object:OpenSSLCertificate";
      if (typeof php.get_resource_type === "function") {
        try {
          const type = php.get_resource_type(value) as unknown;
          if (typeof type === "string") return type;
        } catch {
          // not a resource
        }
      }
      if (typeof (value as { id?: unknown }).id !== "number") return null;
      if (/context/i.test(name)) return "stream-context";
      return "stream";
    },
  };
}
