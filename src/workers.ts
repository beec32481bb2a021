/**
 * cashews/workers: the Cloudflare Workers wrapper.
 * @module
 */
export {};
