/**
 * The codec layer: typed serialisation of values to strings, and HMAC signing of stored texts.
 * Runs on every runtime (web standards only).
 * @module
 */

export { encode, decode, validate, UNDECODABLE } from "./typed.js";
export type { Undecodable } from "./typed.js";
export { createSigner, createFastSigner, isCounter, isSigned, SIGNED_PREFIX } from "./sign.js";
export type { FastSigner, Signer } from "./sign.js";
export { Raised } from "./raised.js";
