/**
 * Redis Cluster key slots: which of the 16384 hash slots a key lives in, computed here (no I/O, no
 * ioredis, no `node:*`), so that multi-key commands can be split into one command per slot.
 * @module
 */
import { hashTag } from "../remote.js";

/** Number of hash slots of a Redis Cluster. */
export const SLOT_COUNT = 16384;

/** CRC16/XMODEM (polynomial 0x1021, initial value 0) lookup table. */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

const encoder = new TextEncoder();

/** CRC16/XMODEM of `bytes`. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/**
 * The hash slot of `key`, as Redis Cluster computes it (`CLUSTER KEYSLOT`): CRC16 of the key's
 * UTF-8 bytes mod 16384, or of its hash tag, the text between the first `{` and the next `}`
 * when that text is not empty.
 * @example
 * keySlot("foo");                  // 12182
 * keySlot("{user:1}:profile");     // the same slot as keySlot("user:1")
 * keySlot("a{}b");                 // an empty tag: the whole key is hashed
 */
export function keySlot(key: string): number {
  // `{` and `}` are ASCII, so looking for them in the string or in its UTF-8 bytes is the same.
  return crc16(encoder.encode(hashTag(key) ?? key)) % SLOT_COUNT;
}

/**
 * Groups the positions of `keys` by hash slot: one array of indices per slot, slots in order of
 * first appearance, indices ascending within a slot.
 * @example
 * groupBySlot(["{a}1", "b", "{a}2"]); // [[0, 2], [1]]
 */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(keys[i]!);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [i]);
    else group.push(i);
  }
  return [...groups.values()];
}
