/**
 * Registered types: user classes the typed codec stores faithfully (`cache.registerType`). One
 * registry per cache, shared by all its routes, so a registration applies to every backend of the
 * cache, also to routes set up before it.
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { Raised } from "./raised.js";
import { ERRORS, isTypedArrayClass } from "./typed.js";

/**
 * How instances of a class are stored: `encode` turns an instance into data the cache can store
 * (anything `cache.set` takes, including other registered instances), `decode` turns that data
 * back into an instance. `name` identifies the type in stored values: keep it stable across
 * deployments (renaming the class does not matter, renaming the type does).
 * @example
 * class Money { constructor(readonly cents: bigint, readonly currency: string) {} }
 * const codec: TypeCodec<Money, [string, string]> = {
 *   name: "Money",
 *   encode: (m) => [m.cents.toString(), m.currency],
 *   decode: ([cents, currency]) => new Money(BigInt(cents), currency),
 * };
 * cache.registerType(Money, codec);
 */
export interface TypeCodec<T extends object, Data = unknown> {
  /** The type's name in stored values: 1 to 64 characters of letters, digits and `_ . : -`, unique per cache. */
  name: string;
  /** Turns an instance into storable data (a plain object, an array, a string, another registered instance…). */
  encode(instance: T): Data;
  /** Turns the data `encode` returned back into an instance (it must be an instance of the class). */
  decode(data: Data): T;
}

/** A registered class with its codec. */
export interface RegisteredType {
  readonly ctor: abstract new (...args: never[]) => object;
  readonly name: string;
  encode(instance: object): unknown;
  decode(data: unknown): unknown;
}

const NAME = /^[A-Za-z_$][\w$.:-]{0,63}$/;

/** Classes whose instances the codec stores natively (typed arrays: see `isNative`): registering them would never be used. */
const NATIVE: readonly unknown[] = [Object, Array, Date, RegExp, Map, Set, ArrayBuffer, DataView, Promise, Raised, Function];

/** The registered types of one cache, by prototype (encoding) and by name (decoding). */
export class TypeRegistry {
  readonly byProto: Map<object, RegisteredType> = new Map();
  readonly byName: Map<string, RegisteredType> = new Map();

  /**
   * Registers `ctor` under `codec.name`. Registering the same class under the same name again
   * replaces its functions (e.g. a reloaded module); any other clash is refused.
   * @throws {CacheConfigError} for a bad class, name or codec, or a clash.
   */
  register(ctor: unknown, codec: unknown): void {
    const where = "registerType";
    if (typeof ctor !== "function" || typeof ctor.prototype !== "object" || ctor.prototype === null) {
      throw new CacheConfigError(`${where}: the first argument must be a class, got ${ctor === null ? "null" : typeof ctor}`);
    }
    const label = ctor.name || "(anonymous class)";
    if (NATIVE.includes(ctor) || isTypedArrayClass(ctor) || ERRORS.includes(ctor as ErrorConstructor)) {
      throw new CacheConfigError(`${where}: ${label} is stored natively by the cache and cannot be registered`);
    }
    const { name, encode, decode } = (codec ?? {}) as Partial<TypeCodec<object>>;
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new CacheConfigError(
        `${where}(${label}): "name" must be 1 to 64 characters of letters, digits and _ $ . : - (starting with a letter, _ or $), got ${typeof name === "string" ? JSON.stringify(name) : String(name)}`,
      );
    }
    if (typeof encode !== "function" || typeof decode !== "function") {
      throw new CacheConfigError(`${where}(${label}): the codec needs encode(instance) and decode(data) functions`);
    }
    const sameName = this.byName.get(name);
    const sameClass = this.byProto.get(ctor.prototype as object);
    if (sameName && sameName.ctor !== ctor) {
      throw new CacheConfigError(`${where}(${label}): the name "${name}" is already registered for ${sameName.ctor.name || "another class"}`);
    }
    if (sameClass && sameClass.name !== name) {
      throw new CacheConfigError(`${where}(${label}): the class is already registered as "${sameClass.name}"`);
    }
    const type: RegisteredType = { ctor: ctor as RegisteredType["ctor"], name, encode, decode };
    this.byProto.set(ctor.prototype as object, type);
    this.byName.set(name, type);
  }

  /** The registered type `o` is an instance of, through a subclass (for error messages). */
  baseOf(o: object): RegisteredType | undefined {
    for (const type of this.byProto.values()) if (o instanceof type.ctor) return type;
    return undefined;
  }
}
