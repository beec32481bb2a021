// Helpers of the cloudflare-kv:// tests: a recorder in front of a real KV namespace (it forwards
// every call unchanged and notes what was asked), and a binding that answers late.
import type { KvNamespaceLike } from "../../../src/cloudflare-kv.js";

export interface KvCall {
  method: string;
  args: unknown[];
}

/** `kv` with every call recorded in `calls` (then forwarded to `kv` as it is). */
export function recorded(kv: KvNamespaceLike): { binding: KvNamespaceLike; calls: KvCall[] } {
  const calls: KvCall[] = [];
  const binding = {} as Record<string, unknown>;
  for (const method of ["get", "getWithMetadata", "put", "delete", "list"] as const) {
    binding[method] = (...args: unknown[]) => {
      calls.push({ method, args });
      return (kv[method] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return { binding: binding as unknown as KvNamespaceLike, calls };
}

/** `kv` whose reads are answered `ms` later (the real answer, delayed). */
export function delayed(kv: KvNamespaceLike, ms: number): KvNamespaceLike {
  const later = <T>(value: Promise<T>): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));
  return {
    get: ((...args: unknown[]) => later((kv.get as (...a: unknown[]) => Promise<unknown>)(...args))) as KvNamespaceLike["get"],
    getWithMetadata: ((...args: unknown[]) => later((kv.getWithMetadata as (...a: unknown[]) => Promise<unknown>)(...args))) as KvNamespaceLike["getWithMetadata"],
    put: (...args) => kv.put(...args),
    delete: (key) => kv.delete(key),
    list: (options) => kv.list(options),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
