import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.js";
import {
  compileKey,
  defaultKey,
  md5,
  parameterNames,
  parseTemplate,
  sha1,
  sha256,
  templateFields,
  templatePattern,
  type KeyTarget,
  type ParamInfo,
} from "../../src/keys/index.js";

const target = (names: (string | undefined)[], rest = false, name = "fn"): KeyTarget => ({
  name,
  params: { names, rest },
});
const key = (template: string, params: (string | undefined)[], args: unknown[], ctx?: Record<string, unknown>): string =>
  compileKey(template, target(params))(args, ctx);

/** base64url without padding, via btoa of the UTF-8 bytes. */
function b64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
const jwt = (payload: unknown): string => `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(JSON.stringify(payload))}.c2ln`;

describe("compileKey: placeholders", () => {
  it("names, with literal text around", () => {
    expect(key("user:{id}", ["id"], [42])).toBe("user:42");
    expect(key("{a}-{b}", ["a", "b"], ["x", null])).toBe("x-null");
    expect(key("{a}-{b}-{c}", ["a", "b", "c"], ["x"])).toBe("x--");
    expect(key("static", ["a"], [1])).toBe("static");
    expect(key("", [], [])).toBe("");
  });
  it("renders values with renderValue", () => {
    expect(key("{q}", ["q"], [{ e: true, d: 1 }])).toBe("d:1:e:true");
    expect(key("{ids}", ["ids"], [[1, 2, 3]])).toBe("1:2:3");
  });
  it("paths, including through Maps, missing links render empty", () => {
    const user = { profile: { id: 7, tags: ["a", "b"] } };
    expect(key("{user.profile.id}", ["user"], [user])).toBe("7");
    expect(key("{user.profile.tags.1}", ["user"], [user])).toBe("b");
    expect(key("{user.name.length}", ["user"], [{ name: "abc" }])).toBe("3");
    expect(key("{m.k}", ["m"], [new Map([["k", "v"]])])).toBe("v");
    expect(key("[{user.missing.deep}]", ["user"], [user])).toBe("[]");
    expect(key("[{user.profile}]", ["user"], [undefined])).toBe("[]");
  });
  it("getters on class instances are readable by path", () => {
    class User {
      constructor(private readonly first: string) {}
      get display(): string {
        return this.first.toUpperCase();
      }
    }
    expect(key("{u.display}", ["u"], [new User("ann")])).toBe("ANN");
  });
  it("positions and positional paths", () => {
    expect(key("{0}:{1}", ["a", "b"], ["x", "y"])).toBe("x:y");
    expect(key("{0.id}", [undefined], [{ id: 3 }])).toBe("3");
    expect(key("{1.0}", ["a", undefined], [0, ["first"]])).toBe("first");
  });
  it("rest parameter binds the remaining arguments as an array; positions reach into it", () => {
    expect(compileKey("{a}|{ids}", target(["a", "ids"], true))([1, 2, 3])).toBe("1|2:3");
    expect(compileKey("{a}|{ids}", target(["a", "ids"], false))([1, 2, 3])).toBe("1|2");
    expect(compileKey("{ids}", target(["a", "ids"], true))([1, 2, 3])).toBe("2:3");
    expect(compileKey("{ids:len}", target(["a", "ids"], true))([1])).toBe("0");
    expect(compileKey("{5}", target(["a", "ids"], true))([0, 1, 2, 3, 4, "five"])).toBe("five");
  });
  it("missing arguments render empty; default values are not applied", () => {
    function f(a: string, b = 2): string {
      return a + b;
    }
    const build = compileKey("{a}:{b}", { name: f.name, params: parameterNames(f) });
    expect(build(["x"])).toBe("x:");
    expect(build(["x", 2])).toBe("x:2");
  });
  it("literal braces with {{ and }}", () => {
    expect(key("{{literal}}:{id}", ["id"], [1])).toBe("{literal}:1");
    expect(key("{{{id}}}", ["id"], [1])).toBe("{1}");
  });
  it("prefix option", () => {
    expect(compileKey("user:{id}", target(["id"]), { prefix: "v2" })([1])).toBe("v2:user:1");
    expect(compileKey("user:{id}", target(["id"]), { prefix: "" })([1])).toBe("user:1");
  });
  it("many placeholders (general loop)", () => {
    expect(key("{a}{b}{c}{d}{e}", ["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5])).toBe("12345");
    expect(key("<{a}|{b}|{c}|{d}>", ["a", "b", "c", "d"], [1, 2, 3, 4])).toBe("<1|2|3|4>");
  });
  it("a class instance argument throws at call time, naming the placeholder", () => {
    class Opaque {}
    const build = compileKey("{o}", target(["o"]));
    expect(() => build([new Opaque()])).toThrow(CacheConfigError);
    expect(() => build([new Opaque()])).toThrow(/parameter "o" \(a Opaque instance\)/);
    expect(() => compileKey("{o.inner}", target(["o"]))([{ inner: new Opaque() }])).toThrow(/parameter "o\.inner"/);
  });
});

describe("compileKey: transforms", () => {
  it("lower / upper", () => {
    expect(key("{n:lower}", ["n"], ["MiXeD"])).toBe("mixed");
    expect(key("{n:upper}", ["n"], ["MiXeD"])).toBe("MIXED");
    expect(key("{n:upper}", ["n"], [true])).toBe("TRUE");
  });
  it("len: strings, arrays (element count), Map/Set size, anything else: rendered length", () => {
    expect(key("{x:len}", ["x"], ["hello"])).toBe("5");
    expect(key("{x:len}", ["x"], [[1, 22, 333]])).toBe("3");
    expect(key("{x:len}", ["x"], [new Map([[1, 2]])])).toBe("1");
    expect(key("{x:len}", ["x"], [new Set([1, 2])])).toBe("2");
    expect(key("{x:len}", ["x"], [1234])).toBe("4");
    expect(key("{x:len}", ["x"], [undefined])).toBe("0");
  });
  it("hash (md5 default), hash(md5|sha1|sha256)", () => {
    expect(key("{t:hash}", ["t"], ["test"])).toBe("098f6bcd4621d373cade4e832627b4f6");
    expect(key("{t:hash(md5)}", ["t"], ["test"])).toBe(md5("test"));
    expect(key("{t:hash(sha1)}", ["t"], ["test"])).toBe(sha1("test"));
    expect(key("{t:hash( SHA256 )}", ["t"], ["test"])).toBe(sha256("test"));
    expect(key("{q:hash}", ["q"], [{ b: 1, a: 2 }])).toBe(md5("a:2:b:1"));
  });
  it("chained transforms apply left to right", () => {
    expect(key("{e:lower:hash}", ["e"], ["A@B.C"])).toBe(md5("a@b.c"));
    expect(key("{e:hash:upper}", ["e"], ["test"])).toBe(md5("test").toUpperCase());
    expect(key("{t:jwt(sub):upper}", ["t"], [jwt({ sub: "ann" })])).toBe("ANN");
  });
  it("jwt(claim): unverified payload claim; Bearer prefix ignored", () => {
    const token = jwt({ sub: "user-1", roles: ["a", "b"], n: 5, "https://x.io/claims": "ok", name: "Zoë" });
    expect(key("{t:jwt(sub)}", ["t"], [token])).toBe("user-1");
    expect(key("{t:jwt(roles)}", ["t"], [token])).toBe("a:b");
    expect(key("{t:jwt(n)}", ["t"], [token])).toBe("5");
    expect(key("{t:jwt(https://x.io/claims)}", ["t"], [token])).toBe("ok");
    expect(key("{t:jwt(name)}", ["t"], [token])).toBe("Zoë");
    expect(key("{t:jwt(sub)}", ["t"], [`Bearer ${token}`])).toBe("user-1");
    expect(key("{req.headers.auth:jwt(sub)}", ["req"], [{ headers: { auth: token } }])).toBe("user-1");
  });
  it("jwt(claim): malformed token or missing claim renders empty (documented)", () => {
    const p = ["t"];
    expect(key("[{t:jwt(sub)}]", p, ["not-a-jwt"])).toBe("[]");
    expect(key("[{t:jwt(sub)}]", p, ["a.b"])).toBe("[]");
    expect(key("[{t:jwt(sub)}]", p, ["a.!!!.c"])).toBe("[]");
    expect(key("[{t:jwt(sub)}]", p, [`x.${b64url("not json")}.y`])).toBe("[]");
    expect(key("[{t:jwt(sub)}]", p, [`x.${b64url("[1]")}.y`])).toBe("[]");
    expect(key("[{t:jwt(sub)}]", p, [jwt({ other: 1 })])).toBe("[]");
    expect(key("[{t:jwt(toString)}]", p, [jwt({})])).toBe("[]");
    expect(key("[{t:jwt(sub)}]", p, [undefined])).toBe("[]");
  });
  it("@:get(name) reads the key context; missing context or entry renders empty", () => {
    const build = compileKey("user:{@:get(tenant)}:{id}", target(["id"]));
    expect(build([5], { tenant: "acme" })).toBe("user:acme:5");
    expect(build([5], {})).toBe("user::5");
    expect(build([5])).toBe("user::5");
    expect(build([5], Object.create({ tenant: "inherited" }) as Record<string, unknown>)).toBe("user::5");
    expect(compileKey("{@:get(t):upper}", target([]))([], { t: "x" })).toBe("X");
    expect(compileKey("{@:get(ids)}", target([]))([], { ids: [1, 2] })).toBe("1:2");
  });
  it("@ needs no active context at compile time (the original's quirk is fixed)", () => {
    expect(() => compileKey("user:{@:get(client_id)}", target([]))).not.toThrow();
  });
  it("get(name) on a parameter: own property or Map entry", () => {
    expect(key("{o:get(a)}", ["o"], [{ a: 1 }])).toBe("1");
    expect(key("{o:get(a)}", ["o"], [new Map([["a", 2]])])).toBe("2");
    expect(key("[{o:get(toString)}]", ["o"], [{}])).toBe("[]");
  });
});

describe("compileKey: validation at compile time", () => {
  const err = (template: string, t: KeyTarget = target(["id", "name"], false, "getUser")): string => {
    try {
      compileKey(template, t);
    } catch (e) {
      expect(e).toBeInstanceOf(CacheConfigError);
      return (e as Error).message;
    }
    throw new Error(`expected ${template} to throw`);
  };

  it("unknown placeholder: names it, lists the parameters, suggests positions or a key function", () => {
    const m = err("user:{uid}");
    expect(m).toContain('Key template "user:{uid}" for "getUser" uses the placeholder {uid}');
    expect(m).toContain('no parameter "uid"');
    expect(m).toContain("Parameters found: id, name.");
    expect(m).toContain("a bundler or minifier may have renamed them");
    expect(m).toContain('"{0}"');
    expect(m).toContain("key function");
  });
  it("a placeholder renamed by esbuild binds to its one candidate; two candidates fail with a hint", () => {
    expect(compileKey("user:{user.id}", target(["user2", "verbose"], false, "getUser"))([{ id: 4 }, true])).toBe("user:4");
    const m = err("user:{user.id}", target(["user2", "user3", "verbose"], false, "getUser"));
    expect(m).toContain("Parameters found: user2, user3, verbose.");
    expect(m).toContain('"user2" looks like "user" renamed by a transpiler or bundler');
    expect(m).toContain("shadows a module-level name");
  });
  it("lists destructured and rest parameters", () => {
    const m = err("{x}", target(["a", undefined, "more"], true, ""));
    expect(m).toContain("for an anonymous function");
    expect(m).toContain("Parameters found: a, #1 (destructured, use {1}), ...more.");
    expect(err("{x}", target([]))).toContain("Parameters found: none.");
  });
  it("position out of range (without a rest parameter)", () => {
    const m = err("{2}");
    expect(m).toContain("uses the position {2}, but the function takes 2 parameters (id, name)");
    expect(err("{0}", target([]))).toContain("takes 0 parameters");
  });
  it("unknown transform names the known ones", () => {
    const m = err("{id:shout}");
    expect(m).toContain('unknown transform "shout" in {id:shout}');
    expect(m).toContain("lower, upper, len, hash, hash(md5|sha1|sha256), jwt(claim), get(name)");
  });
  it("bad transform arguments", () => {
    expect(err("{id:hash(sha512)}")).toContain('unknown hash algorithm "sha512" in {id:hash(sha512)}; use one of md5, sha1, sha256');
    expect(err("{id:lower(x)}")).toContain('the transform "lower" in {id:lower(x)} takes no argument');
    expect(err("{id:jwt}")).toContain('"jwt" in {id:jwt} needs a claim name, e.g. "jwt(sub)"');
    expect(err("{id:get()}")).toContain('"get" in {id:get()} needs an entry name');
    expect(err("{id:lower(}")).toContain('cannot parse the transform "lower("');
  });
  it("@ without get", () => {
    expect(err("{@}")).toContain('must read one entry with get, e.g. "{@:get(tenant)}"');
    expect(err("{@.tenant}")).toContain("must read one entry with get");
    expect(err("{@:lower}")).toContain("must read one entry with get");
  });
  it("malformed templates", () => {
    expect(err("user:{id")).toBe('Malformed key template "user:{id": the "{" at position 5 is not closed; write "{{" for a literal brace.');
    expect(err("user:id}")).toContain('a lone "}" at position 7; write "}}" for a literal brace');
    expect(err("{a{id}}")).toContain('the "{" at position 0 is not closed');
    expect(err("user:{}")).toContain("the placeholder {} names nothing");
    expect(err("{:lower}")).toContain("the placeholder {:lower} names nothing");
    expect(err("{user..id}")).toContain("the placeholder {user..id} has an empty path segment");
    expect(err("{id.}")).toContain("empty path segment");
  });
  it("errors are thrown at compile time, not at build time", () => {
    expect(() => compileKey("{nope}", target(["id"]))).toThrow(CacheConfigError);
  });
});

describe("templateFields / parseTemplate / templatePattern", () => {
  it("fields in order of first use, deduplicated", () => {
    expect(templateFields("user:{id}:{user.profile.id:hash}:{0}:{@:get(t)}:{id}")).toEqual([
      "id",
      "user.profile.id",
      "0",
      "@",
    ]);
    expect(templateFields("{{x}}")).toEqual([]);
  });
  it("parseTemplate gives literal and field segments", () => {
    expect(parseTemplate("a:{b.c:hash(sha1):upper}:{{d}}")).toEqual([
      { kind: "literal", text: "a:" },
      {
        kind: "field",
        field: "b.c",
        root: "b",
        path: ["c"],
        transforms: [{ name: "hash", arg: "sha1" }, { name: "upper" }],
        source: "{b.c:hash(sha1):upper}",
      },
      { kind: "literal", text: ":{d}" },
    ]);
  });
  it("templatePattern turns placeholders into * and escapes glob characters", () => {
    expect(templatePattern("user:{id}:posts")).toBe("user:*:posts");
    expect(templatePattern("a*b?[c]\\:{x}{{y}}")).toBe("a\\*b\\?\\[c\\]\\\\:*{y}");
  });
});

describe("defaultKey", () => {
  const p = (names: (string | undefined)[], rest = false): ParamInfo => ({ names, rest });

  it("<prefix>:<fnName>:<param>:<value>…", () => {
    expect(defaultKey("getUser", p(["id", "full"]), "v1")([5, true])).toBe("v1:getUser:id:5:full:true");
    expect(defaultKey("getUser", p(["id", "full"]))([5, true])).toBe("getUser:id:5:full:true");
    expect(defaultKey("getUser", p(["id", "full"]), "")([5])).toBe("getUser:id:5:full:");
  });
  it("no parameters", () => {
    expect(defaultKey("now", p([]))([])).toBe("now");
    expect(defaultKey("now", p([]), "x")(["ignored"])).toBe("x:now");
  });
  it("prefix alone for an anonymous function", () => {
    expect(defaultKey("", p(["id"]), "users")([1])).toBe("users:id:1");
  });
  it("destructured parameters render by position; rest as name:<joined>", () => {
    expect(defaultKey("f", p([undefined, "b"]))([{ y: 2, x: 1 }, "z"])).toBe("f:0:x:1:y:2:b:z");
    expect(defaultKey("f", p(["a", "ids"], true))([1, 2, 3])).toBe("f:a:1:ids:2:3");
    expect(defaultKey("f", p(["a", "ids"], true))([1])).toBe("f:a:1:ids:");
    expect(defaultKey("f", p([undefined], true))([1, 2])).toBe("f:0:1:2");
  });
  it("many parameters", () => {
    expect(defaultKey("f", p(["a", "b", "c", "d", "e"]))([1, 2, 3, 4, 5])).toBe("f:a:1:b:2:c:3:d:4:e:5");
  });
  it("anonymous function without prefix is rejected", () => {
    expect(() => defaultKey("", p(["id"]))).toThrow(CacheConfigError);
    expect(() => defaultKey("", p(["id"]))).toThrow(
      /Cannot build a default cache key for an anonymous function: give the function a name .* or pass `key` or `prefix`\./,
    );
  });
  it("a class instance argument throws, naming the parameter", () => {
    class Opaque {}
    expect(() => defaultKey("f", p(["opts"]))([new Opaque()])).toThrow(/parameter "opts" \(a Opaque instance\)/);
  });
  it("works end to end with parameterNames", () => {
    async function getOrders(userId: string, { page }: { page: number }, ...statuses: string[]): Promise<unknown> {
      return [userId, page, statuses];
    }
    const build = defaultKey(getOrders.name, parameterNames(getOrders), "shop");
    expect(build(["u1", { page: 2 }, "open", "paid"])).toBe("shop:getOrders:userId:u1:1:page:2:statuses:open:paid");
  });
});
