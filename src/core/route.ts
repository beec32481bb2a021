/**
 * One configured backend behind a prefix: lazy start, codec (typed encoding, custom serializer,
 * signing) and safe-mode bookkeeping. A cache routes every key to one of these.
 * @internal
 * @module
 */
import { LOCK_PREFIX, MISSING, type Backend } from "../backends/types.js";
import { untagged } from "../backends/tagged.js";

export { LOCK_PREFIX };
import type { BackendCapabilities, Capability } from "../backends/capabilities.js";
import { decode, encode, isCounter, UNDECODABLE, validate, createFastSigner, type FastSigner } from "../codec/index.js";
import { loadModule } from "../config/load.js";
import type { ParsedSetup, Serializer } from "../config/parse.js";
import { CacheConfigError, SerializationError } from "../errors.js";
import type { Emitter } from "../events.js";
import { throughMiddleware, type Middleware } from "./middleware.js";
import type { TypeRegistry } from "../codec/types.js";
import type { ProbeHub } from "./probe.js";
import { canCompress, compress, decompress, isCompressed, type CompressFormat } from "../codec/compress.js";

/** A read that failed verification: the caller deletes the key and reports `tampered`. */
export const TAMPERED: unique symbol = Symbol("cashews.tampered");

/**
 * An outage of a route's backend, from `backend-down` to `backend-up` (see `CacheCore.failed`):
 * the calls that failed open meanwhile, and when the last `error` event of it was emitted.
 */
export interface Outage {
  failedOpen: number;
  /** `Date.now()` of the last `error` event emitted during the outage. */
  emitted: number;
}

export class Route {
  readonly prefix: string;
  readonly scheme: string;
  readonly label: string;
  readonly enabled: boolean;
  readonly safe: boolean;
  /** What the backend can do, as its scheme (then the backend itself) declares it; absent flags are true. */
  capabilities: Readonly<Partial<BackendCapabilities>>;
  /** Values are stored as given (memory without serialize/secret): no encoding at all. */
  readonly live: boolean;
  readonly #setup: ParsedSetup;
  readonly #serializer: Serializer | undefined;
  readonly #signer: FastSigner | undefined;
  /** The cache's registered types (shared by its routes: a later registration applies here too). */
  readonly #types: TypeRegistry | undefined;
  /** The `compress` option, and from how many characters of encoded text it applies. */
  readonly #compress: CompressFormat | undefined;
  readonly #threshold: number;
  /** Set once the backend is created (its first connection may still be under way). */
  backend: Backend | undefined;
  /**
   * True when reads can use the backend's synchronous `peek`: it answers decoded values (live
   * memory, or a Redis clientSide local copy), and the route is enabled.
   */
  peekable = false;
  /** True when the backend keeps what the route decoded (a clientSide local copy). */
  keeps = false;
  #starting: Promise<Backend> | undefined;
  /**
   * Bumped at each `backend-down` and `backend-up`: a command reads it when it starts, so that
   * only a command issued during an outage ends it, and only one issued while the backend was
   * answering starts one (a reply or a failure from before the change proves nothing about now).
   */
  epoch = 0;
  /** Set while the backend is down (safe mode), from `backend-down` to `backend-up`. */
  down: Outage | undefined;
  /** Bumped by close(): a start that was loading the module when closed creates nothing. */
  #generation = 0;

  /** Where `stale` events go (the cache's emitter), when the route has a local tier with grace. */
  readonly #emitter: Emitter | undefined;

  constructor(setup: ParsedSetup, emitter?: Emitter, types?: TypeRegistry) {
    this.#emitter = emitter;
    this.#types = types;
    const { common, scheme } = setup;
    const options = setup.backend.options;
    this.#setup = setup;
    this.prefix = common.prefix;
    this.scheme = scheme;
    this.label = common.prefix ? `${scheme}@${common.prefix}` : scheme;
    this.enabled = common.enable;
    this.safe = common.safe;
    this.capabilities = setup.spec.capabilities ?? {};
    this.#serializer = common.serializer;
    this.#signer = common.secret ? createFastSigner(common.secret) : undefined;
    this.#compress = common.compress;
    if (this.#compress && !canCompress()) throw new CacheConfigError(`setup("${scheme}://"): "compress" needs CompressionStream, which this runtime lacks`);
    this.#threshold = common.compressThreshold;
    // Memory stores live values unless told to serialise; a secret, a custom codec or compression implies it.
    if ((this.#signer || this.#serializer || this.#compress) && "serialize" in options) options.serialize = true;
    this.live = options.serialize === false;
  }

  /**
   * Throws the scheme's {@link CacheCapabilityError} when this backend lacks one of `capabilities`,
   * which `command` needs (a scheme that declares a missing capability gives `refuse`).
   */
  need(command: string, ...capabilities: Capability[]): void {
    for (const capability of capabilities) if (this.capabilities[capability] === false) throw this.#setup.spec.refuse!(capability, command);
  }

  /**
   * Creates the backend when `capability` is known only then (a custom backend that declared
   * nothing): before a check that must not wait for the first command. Its failure is the command's.
   */
  async declare(capability: Capability): Promise<void> {
    if (this.backend === undefined && this.enabled && this.capabilities[capability] === undefined) await this.start().catch(() => undefined);
  }

  /** Set when a later `setup` replaced this route: it never starts again. */
  retired = false;

  /** The started backend (creating and initialising it on first use). */
  start(): Promise<Backend> {
    if (this.backend) return Promise.resolve(this.backend);
    if (this.retired) {
      return Promise.reject(new Error(`the ${this.label} backend was replaced by a later setup()`));
    }
    this.#starting ??= this.#create().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #create(): Promise<Backend> {
    const generation = this.#generation;
    const module = await loadModule(this.#setup.spec, this.scheme);
    if (generation !== this.#generation) throw new Error("the cache was closed while starting");
    // The `local` option: a local tier in front of the remote store (Redis takes it itself, in its
    // options). A copy served past its ttl when the store fails (grace) is reported as "stale".
    const local = this.#setup.common.local;
    const emitter = this.#emitter;
    const onStale = local && emitter && local.grace ? (key: string, error: unknown) => emitter.emit({ type: "stale", key, backend: this.label, error }) : undefined;
    const config = this.#setup.backend;
    let backend = module.create(onStale && !module.localTier ? { ...config, options: { ...config.options, local: { ...local, onStale } } } : config);
    if (local && module.localTier) backend = module.localTier(backend, { ...local, onStale });
    // Keep the backend even when its first connection fails: it reconnects in the background,
    // and later commands use it (failing fast meanwhile) instead of creating another client.
    this.#raw = backend;
    this.#expose();
    // A backend that states its capabilities (defineBackend) refines what its scheme declared.
    // A flag is false when either says so (a scheme's declaration is not overridden by defaults).
    if (backend.capabilities) {
      const merged: Partial<BackendCapabilities> = { ...backend.capabilities, ...this.capabilities };
      for (const [flag, value] of Object.entries(backend.capabilities)) if (value === false) merged[flag as Capability] = false;
      this.capabilities = merged;
    }
    this.keeps = typeof backend.keep === "function";
    await backend.init();
    return this.backend ?? backend;
  }

  async close(): Promise<void> {
    this.#generation++;
    this.#starting = undefined;
    const backend = this.#raw;
    this.backend = this.#raw = undefined;
    this.peekable = false;
    this.keeps = false;
    if (backend) await backend.close();
  }

  /** The backend as created (`backend` is it, or its view through the cache's middleware). */
  #raw: Backend | undefined;

  /** The backend as created, once started (not its view through middleware or a probe). */
  get created(): Backend | undefined {
    return this.#raw;
  }
  /** The cache's command middleware (`cache.use`), in registration order. */
  #middleware: readonly Middleware[] = [];

  /** Routes every command of the backend through `chain` (empty: the backend itself again). */
  use(chain: readonly Middleware[]): void {
    this.#middleware = chain;
    this.#expose();
  }

  /** The cache's observability probe (src/core/probe.ts), while one is attached. */
  #probe: ProbeHub | undefined;

  /** Reports every command of the backend to `probe` (undefined: stops). */
  probe(probe: ProbeHub | undefined): void {
    this.#probe = probe;
    this.#expose();
  }

  /**
   * Publishes the backend: itself, or with middleware its view through them; the synchronous
   * `peek` fast paths are used only without middleware (every read then runs through them). A
   * probe sees the backend first (it keeps `peek`), the middleware see the probed backend.
   */
  #expose(): void {
    const raw = this.#raw;
    if (raw === undefined) return;
    const chain = this.#middleware;
    const probed = this.#probe === undefined ? raw : this.#probe.view(raw, this);
    this.backend = chain.length === 0 ? probed : throughMiddleware(probed, chain, this.label);
    this.peekable = chain.length === 0 && (this.live || raw.peekDecoded === true) && this.enabled && typeof raw.peek === "function";
  }

  /** Hands a decoded value to a backend that keeps it (clientSide); returns it. */
  kept(key: string, raw: unknown, value: unknown): unknown {
    if (value !== MISSING) this.backend?.keep?.(key, raw, value);
    return value;
  }

  /**
   * Encodes a value for storage under `key`: the stored value, or a promise of it when compressing
   * or signing with Web Crypto. Throws SerializationError (synchronously) for what cannot round-trip.
   */
  encode(key: string, value: unknown): unknown {
    if (this.live) {
      validate(value, this.#types);
      return value;
    }
    const text = this.#serializer ? this.#customEncode(value) : encode(value, this.#types);
    if (this.#compress !== undefined && text.length >= this.#threshold) return this.#compressed(key, text, this.#compress);
    return this.#signer ? this.#signer.sign(key, text) : text;
  }

  /** Compresses, then signs the compressed text. */
  async #compressed(key: string, text: string, format: CompressFormat): Promise<string> {
    const stored = await compress(text, format);
    return this.#signer ? this.#signer.sign(key, stored) : stored;
  }

  /**
   * Turns a stored value back into the caller's value: the value, MISSING (undecodable) or
   * TAMPERED; a promise of one only when verifying a signature needs Web Crypto.
   */
  decode(key: string, raw: unknown): unknown {
    if (this.live) return raw;
    if (typeof raw !== "string") return typeof raw === "number" ? raw : MISSING;
    let text = raw;
    // Markers start with "$" (one char test on the common path): a lock is no value; a tagged
    // text's header is for tagDelete, not the caller.
    if (text.charCodeAt(0) === 36) {
      if (text.startsWith(LOCK_PREFIX)) return MISSING;
      text = untagged(text);
    }
    if (this.#signer) {
      if (isCounter(text)) return Number(text);
      const payload = this.#signer.verify(key, text);
      if (typeof payload === "string") return this.#unpack(key, payload);
      if (payload === null) return TAMPERED;
      return payload.then((verified) => (verified === null ? TAMPERED : this.#unpack(key, verified)));
    }
    return this.#unpack(key, text);
  }

  /** Decompresses (asynchronously) a compressed text, then parses; a text that fails is a miss reported as an `error`. */
  #unpack(key: string, text: string): unknown {
    if (!isCompressed(text)) return this.#parse(key, text);
    return decompress(text).then(
      (inner) => this.#parse(key, inner),
      (error: unknown) => {
        this.#undecodable(key, new SerializationError(`could not decompress the stored value: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
        return MISSING;
      },
    );
  }

  /** Reports a stored value that cannot be decoded (it reads as a miss). */
  #undecodable(key: string, error: SerializationError): void {
    this.#emitter?.emit({ type: "error", key, backend: this.label, error });
  }

  #customEncode(value: unknown): string {
    let text: unknown;
    try {
      text = this.#serializer!.encode(value);
    } catch (error) {
      throw new SerializationError(`the custom serializer could not encode the value: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      });
    }
    if (typeof text !== "string") {
      throw new SerializationError(`the custom serializer's encode() must return a string, got ${typeof text}`);
    }
    return text;
  }

  #parse(key: string, text: string): unknown {
    if (this.#serializer) {
      try {
        return this.#serializer.decode(text);
      } catch {
        return MISSING;
      }
    }
    const value = decode(text, this.#types, (error) => this.#undecodable(key, error));
    return value === UNDECODABLE ? MISSING : value;
  }
}
