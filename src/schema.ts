/**
 * Schemas: the `schema` option of the caching strategies and of `getOrSet` takes any Standard
 * Schema v1 validator (zod 4, valibot 1, arktype 2, …). The interface is copied from
 * `@standard-schema/spec` 1.0.0 (MIT), as the spec invites, so cashews needs no dependency for it.
 * @module
 */
import { CacheConfigError, CacheError } from "./errors.js";

/**
 * The Standard Schema v1 interface (https://standardschema.dev), as `@standard-schema/spec`
 * declares it: what the `schema` option accepts.
 * @example
 * import { z } from "zod";
 * const schema: StandardSchemaV1<unknown, { id: string }> = z.object({ id: z.string() });
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

/** The types of {@link StandardSchemaV1}, as in `@standard-schema/spec`. */
export declare namespace StandardSchemaV1 {
  /** The Standard Schema properties interface. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version number of the standard. */
    readonly version: 1;
    /** The vendor name of the schema library. */
    readonly vendor: string;
    /** Validates an unknown input value. */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Inferred types associated with the schema. */
    readonly types?: Types<Input, Output> | undefined;
  }
  /** The result interface of the validate function. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** The result interface if validation succeeds. */
  export interface SuccessResult<Output> {
    /** The typed output value. */
    readonly value: Output;
    /** The non-existent issues. */
    readonly issues?: undefined;
  }
  /** The result interface if validation fails. */
  export interface FailureResult {
    /** The issues of failed validation. */
    readonly issues: ReadonlyArray<Issue>;
  }
  /** The issue interface of the failure output. */
  export interface Issue {
    /** The error message of the issue. */
    readonly message: string;
    /** The path of the issue, if any. */
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** The path segment interface of the issue. */
  export interface PathSegment {
    /** The key representing a path segment. */
    readonly key: PropertyKey;
  }
  /** The Standard Schema types interface. */
  export interface Types<Input = unknown, Output = Input> {
    /** The input type of the schema. */
    readonly input: Input;
    /** The output type of the schema. */
    readonly output: Output;
  }
  /** Infers the input type of a Standard Schema. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema["~standard"]["types"]>["input"];
  /** Infers the output type of a Standard Schema. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema["~standard"]["types"]>["output"];
}

/**
 * The `schema` and `strict` options of the caching strategies (`cache`, `early`, `soft`, `hit`,
 * `dynamic`, `failover`) and of `getOrSet`.
 * @example
 * import { z } from "zod";
 * const User = z.object({ id: z.string(), name: z.string() });
 * // a value stored by an older deploy in another shape is a miss (deleted, reported as "invalid")
 * const getUser = cache({ ttl: "1h", key: "user:{id}", schema: User })(async (id: string) => db.user(id));
 */
export interface SchemaOption {
  /**
   * A Standard Schema v1 validator (zod 4, valibot 1, arktype 2, …) for the cached value. A stored
   * value that fails it is a miss: it is deleted (only if it is still the value read) and reported
   * by an `invalid` event. A computed value that fails it is returned unstored (and reported), or,
   * with `strict: true`, rejected with {@link SchemaError}. The schema's output (its transforms:
   * defaults, migrations) is what callers get; what is stored (and what `condition` judges) is the
   * function's own result, so each read validates it again. Anything but a Standard Schema v1 object throws CacheConfigError at
   * wrap time. Without `schema` nothing is validated and a hit costs nothing more.
   */
  schema?: StandardSchemaV1;
  /**
   * With `schema`: a computed value that fails it rejects the call with {@link SchemaError} (the
   * strategy handles it like an error of the function: `failover` and `soft` may serve their stored
   * value) instead of being returned unstored. Default false.
   */
  strict?: boolean;
}

/**
 * A value failed its `schema`: thrown by a call with `strict: true` whose computed value does not
 * conform, and the `error` of an `invalid` event. `issues` are the schema's.
 * @example
 * const getUser = cache({ ttl: "1h", schema: User, strict: true })(async function getUser(id: string) { return api.user(id); });
 * await getUser("1").catch((error) => {
 *   if (error instanceof SchemaError) console.log(error.issues.map((i) => i.message));
 * });
 */
export class SchemaError extends CacheError {
  constructor(
    message: string,
    readonly issues: ReadonlyArray<StandardSchemaV1.Issue>,
  ) {
    super(message);
  }
}

/** What a check gives for an invalid value. @internal */
export interface Invalid {
  readonly issues: ReadonlyArray<StandardSchemaV1.Issue>;
}

/** What a check gives for a valid value: the schema's output. @internal */
export interface Valid {
  readonly value: unknown;
  readonly issues?: undefined;
}

/** Validates a value: the schema's output, or {@link Invalid}; synchronous when the schema is. @internal */
export type Check = (value: unknown) => Valid | Invalid | Promise<Valid | Invalid>;

/** Validates the `schema` and `strict` options at wrap time; the check, or undefined without a schema. @internal */
export function parseSchema(where: string, schema: unknown, strict: unknown): Check | undefined {
  if (strict !== undefined && typeof strict !== "boolean") throw new CacheConfigError(`${where}: "strict" must be a boolean, got ${typeof strict}`);
  if (schema === undefined) {
    if (strict) throw new CacheConfigError(`${where}: "strict" applies only with a schema`);
    return undefined;
  }
  const props = (typeof schema === "object" || typeof schema === "function") && schema !== null ? (schema as Partial<StandardSchemaV1>)["~standard"] : undefined;
  if (props === undefined || props === null || props.version !== 1 || typeof props.validate !== "function") {
    throw new CacheConfigError(`${where}: "schema" must be a Standard Schema v1 validator (zod 4, valibot 1, arktype 2, …), got ${schema === null ? "null" : typeof schema}`);
  }
  return props.validate.bind(props) as Check;
}

/** The message of a failed check. @internal */
export function schemaMessage(where: string, stored: boolean, issues: ReadonlyArray<StandardSchemaV1.Issue>): string {
  const list = issues.map((issue) => (issue.path ? `${issue.path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")}: ` : "") + issue.message);
  return `${where}: the ${stored ? "stored" : "computed"} value does not match the schema (${list.join("; ")})`;
}
