// Setup URL and option parsing (src/config/parse.ts): names that only exist on Object.prototype
// (`constructor`, `toString`, `__proto__`) are not options, aliases or schemes.
import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/index.js";
import { parseSetup } from "../../src/config/parse.js";
import { registerScheme } from "../../src/config/registry.js";

const rejects = (url: string, options: Record<string, unknown>, message: RegExp) => {
  const parse = () => parseSetup(url, options);
  expect(parse).toThrow(CacheConfigError);
  expect(parse).toThrow(message);
};

describe("parseSetup: inherited property names", () => {
  it.each([
    ["mem://?constructor=1", {}],
    ["mem://?to_string=1", {}],
    ["mem://?__proto__=1", {}],
    ["mem://", { constructor: 1 }],
    ["mem://", { hasOwnProperty: "x" }],
    ["redis://localhost?constructor=1", {}],
  ])("rejects %s %j as an unknown option", (url, options) => {
    rejects(url, options, /unknown (query parameter|option) ".*"; known options: /);
  });

  it("does not take a prototype name for an alias of a registered scheme", () => {
    registerScheme({ schemes: ["proto-alias"], options: { size: { kind: "int" } }, aliases: { sz: "size" }, module: { create: () => ({}) as never } });
    expect(parseSetup("proto-alias://?sz=2").backend.options.size).toBe(2);
    rejects("proto-alias://?constructor=1", {}, /unknown query parameter "constructor"; known options: /);
  });

  it("names no entry for an unknown scheme spelled like a prototype property", () => {
    for (const scheme of ["constructor", "tostring"]) {
      const parse = () => parseSetup(`${scheme}://`);
      expect(parse).toThrow(new RegExp(`unknown scheme "${scheme}://"; known schemes: [^;]*$`));
    }
  });
});
