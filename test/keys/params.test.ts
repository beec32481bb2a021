import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.js";
import { parameterNames } from "../../src/keys/index.js";

/** Evaluates source text as is (no transpiler in between), so comments and layout survive. */
function fromSource(src: string): Function {
  return (0, eval)(`(${src})`) as Function;
}

const names = (fn: Function): (string | undefined)[] => [...parameterNames(fn).names];

describe("parameterNames: function forms (raw source)", () => {
  const cases: [string, (string | undefined)[], boolean?][] = [
    ["function f(a, b) {}", ["a", "b"]],
    ["function (a,\n  b\n) {}", ["a", "b"]],
    ["async function f(a, b) {}", ["a", "b"]],
    ["function* g(a) {}", ["a"]],
    ["async function* g(a, ...rest) {}", ["a", "rest"], true],
    ["(a, b) => a", ["a", "b"]],
    ["a => a", ["a"]],
    ["async a => a", ["a"]],
    ["async (a, b) => a", ["a", "b"]],
    ["async/* x */a => a", ["a"]],
    ["async => 1", ["async"]],
    ["() => 1", []],
    ["function () {}", []],
    ["(ä, $b, _c, 名前) => 1", ["ä", "$b", "_c", "名前"]],
    ["(a, b,) => 1", ["a", "b"]],
  ];
  for (const [src, expected, rest = false] of cases) {
    it(src.replace(/\n/g, "\\n"), () => {
      expect(parameterNames(fromSource(src))).toEqual({ names: expected, rest });
    });
  }
});

describe("parameterNames: default values", () => {
  const cases: [string, string[]][] = [
    ["(a = (1, 2), b) => 1", ["a", "b"]],
    ["(a = 'x,)', b = \"y,(\") => 1", ["a", "b"]],
    ['(a = "\\"),", b) => 1', ["a", "b"]],
    ["(a = `t${(1, 2)}),`, b) => 1", ["a", "b"]],
    ["(a = { b: `${`${'}'}`}` }, c) => 1", ["a", "c"]],
    ["(a = (x, y) => x + y, b = x => (x, x)) => 1", ["a", "b"]],
    ["function f(a = function (x, y) { return ')'; }, b) {}", ["a", "b"]],
    ["(a = { p: 1, q: [2, 3] }, b = [1, [2, 3]]) => 1", ["a", "b"]],
    ["(a = /\\)[,)]/g, b) => 1", ["a", "b"]],
    ["(a = 6 / 2, b = 1) => 1", ["a", "b"]],
    ["(a = new Map([[1, 2]]), b = a?.size ?? 0) => 1", ["a", "b"]],
  ];
  for (const [src, expected] of cases) {
    it(src, () => expect(names(fromSource(src))).toEqual(expected));
  }
});

describe("parameterNames: comments", () => {
  it("block and line comments between and inside parameters", () => {
    const fn = fromSource("function f(/* first */ a, /* c, d */ b = 1, // x, y\n c /* ) */) {}");
    expect(names(fn)).toEqual(["a", "b", "c"]);
  });
  it("comments before the function and before the parameter list", () => {
    expect(names(fromSource("/* lead */ function /* name */ f /* ( */ (a) {}"))).toEqual(["a"]);
  });
});

describe("parameterNames: rest and destructured parameters", () => {
  it("rest parameter is named and marked", () => {
    expect(parameterNames(fromSource("(a, ...ids) => 1"))).toEqual({ names: ["a", "ids"], rest: true });
  });
  it("destructured parameters have no name (positional only)", () => {
    expect(parameterNames(fromSource("({ a, b }, [c, d], e, ...f) => 1"))).toEqual({
      names: [undefined, undefined, "e", "f"],
      rest: true,
    });
  });
  it("destructured with defaults and a destructured rest", () => {
    expect(parameterNames(fromSource("({ a = 1 } = {}, ...[x, y]) => 1"))).toEqual({
      names: [undefined, undefined],
      rest: true,
    });
  });
});

describe("parameterNames: methods (compiled by vitest)", () => {
  it("method shorthand, async, generator, computed and string keys, getters/setters", () => {
    const key = "we(ird";
    const obj = {
      async get(id: string, opts?: object): Promise<unknown> {
        return [id, opts];
      },
      *gen(a: number): Generator<number> {
        yield a;
      },
      [`k(${1})`](a: number, b: number): number {
        return a + b;
      },
      "we(ird"(x: number): number {
        return x;
      },
      set value(v: number) {
        void v;
      },
    };
    expect(names(obj.get)).toEqual(["id", "opts"]);
    expect(names(obj.gen)).toEqual(["a"]);
    expect(names(obj["k(1)"])).toEqual(["a", "b"]);
    expect(names(obj[key])).toEqual(["x"]);
    const setter = Object.getOwnPropertyDescriptor(obj, "value")!.set!;
    expect(names(setter)).toEqual(["v"]);
  });

  it("computed keys containing parentheses (raw source)", () => {
    const obj = fromSource("{ [`k(${1})`](a, b) {}, ['x' + '(y)'](c) {}, async *[Symbol.iterator](d) {} }") as unknown as Record<
      string | symbol,
      Function
    >;
    expect(names(obj["k(1)"]!)).toEqual(["a", "b"]);
    expect(names(obj["x(y)"]!)).toEqual(["c"]);
    expect(names(obj[Symbol.iterator]!)).toEqual(["d"]);
  });

  it("class methods, static methods and private methods", () => {
    class Repo {
      async find(id: number, { deep }: { deep?: boolean } = {}): Promise<unknown> {
        return [id, deep];
      }
      static async load(path: string): Promise<string> {
        return path;
      }
      #secret(token: string): string {
        return token;
      }
      expose(): Function {
        return this.#secret;
      }
    }
    expect(parameterNames(Repo.prototype.find)).toEqual({ names: ["id", undefined], rest: false });
    expect(names(Repo.load)).toEqual(["path"]);
    expect(names(new Repo().expose())).toEqual(["token"]);
  });

  it("TC39-decorated methods: the decorator sees the method's own parameter names", () => {
    const seen: (string | undefined)[][] = [];
    function capture<T extends Function>(value: T, _context: ClassMethodDecoratorContext): T {
      seen.push(names(value));
      return value;
    }
    class Svc {
      @capture
      async get(id: string, lang = "en"): Promise<string> {
        return `${id}:${lang}`;
      }
      @capture
      @capture
      static async list(page: number, ...filters: string[]): Promise<unknown> {
        return [page, filters];
      }
    }
    // (static elements are decorated first, per the spec)
    expect(seen).toEqual([["page", "filters"], ["page", "filters"], ["id", "lang"]]);
    expect(names(Svc.prototype.get)).toEqual(["id", "lang"]);
  });

  it("memoises per function", () => {
    const fn = (a: number): number => a;
    expect(parameterNames(fn)).toBe(parameterNames(fn));
  });
});

describe("parameterNames: unreadable sources", () => {
  it("native function", () => {
    expect(() => parameterNames(Math.max)).toThrow(CacheConfigError);
    expect(() => parameterNames(Math.max)).toThrow(/Cannot read the parameter names of "max": it is native code/);
    expect(() => parameterNames(Math.max)).toThrow(/key function.*"item:\{0\}"/);
  });
  it("bound function", () => {
    function getUser(id: string): string {
      return id;
    }
    const bound = getUser.bind(null);
    expect(() => parameterNames(bound)).toThrow(CacheConfigError);
    expect(() => parameterNames(bound)).toThrow(/"bound getUser": it is a bound function .*wrap the original function/);
  });
  it("proxy", () => {
    const p = new Proxy((a: number) => a, {});
    expect(() => parameterNames(p)).toThrow(/native code or a proxy/);
  });
  it("class", () => {
    class A {
      constructor(public a: number) {}
    }
    expect(() => parameterNames(A)).toThrow(/it is a class/);
  });
});
