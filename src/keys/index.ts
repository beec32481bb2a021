/**
 * Cache keys: parameter names, value rendering, templates and synchronous hashes.
 * @module
 */

export { parameterNames, type ParamInfo } from "./params.js";
export { renderValue } from "./render.js";
export { md5, sha1, sha256, hashHex, HASH_ALGORITHMS, type HashAlgorithm } from "./hash.js";
export {
  compileKey,
  defaultKey,
  parseTemplate,
  templateFields,
  templatePattern,
  KNOWN_TRANSFORMS,
  type CompileOptions,
  type KeyBuilder,
  type KeyTarget,
  type TemplateSegment,
  type TransformSpec,
} from "./template.js";
