/**
 * `cashews/cloudflare-kv`: the `cloudflare-kv://` backend (under construction: registers nothing yet).
 * @module
 */
export {};
