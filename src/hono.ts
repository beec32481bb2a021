/**
 * cashews/hono: Hono middleware (response caching, rate limits, cache-detect headers).
 * @module
 */
export {};
