/**
 * `cashews/cloudflare-cache`: the `cloudflare-cache://` backend (under construction: registers nothing yet).
 * @module
 */
export {};
