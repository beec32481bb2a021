// Documentation checks (`npm test` builds dist/ first):
// 1. every public export of every package entry carries TSDoc in the built `.d.ts` (what editors
//    show): value exports (functions, classes, constants) and the public methods and getters of
//    exported classes need an `@example`; type-only exports need at least a summary;
// 2. every ```ts block of README.md type-checks against the library's sources.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dist = join(root, "dist");

/** The package entries (package.json `exports`), by their dist/ declaration file. */
const ENTRIES = ["index", "core", "redis", "upstash", "cloudflare-kv", "cloudflare-cache", "deno-kv", "hono", "workers", "testing", "otel", "prometheus"] as const;

// ------------------------------------------------------------------------------------ TSDoc in dist

const VALUE = ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Variable | ts.SymbolFlags.Enum;
const TYPE = ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias;

let program: ts.Program;
let checker: ts.TypeChecker;

beforeAll(() => {
  const files = ENTRIES.map((entry) => join(dist, `${entry}.d.ts`));
  for (const file of files) expect(existsSync(file), `${file} is missing: run \`npm run build\` first (npm test does)`).toBe(true);
  program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.esnext.disposable.d.ts", "lib.esnext.decorators.d.ts"],
    types: [],
    skipLibCheck: true,
    noEmit: true,
  });
  checker = program.getTypeChecker();
});

const text = (parts: readonly ts.SymbolDisplayPart[] | undefined): string => ts.displayPartsToString([...(parts ?? [])]).trim();

/** True when `symbol` (own or inherited TSDoc, as an editor shows it) has a non-empty `@example`. */
function hasExample(symbol: ts.Symbol): boolean {
  return symbol.getJsDocTags(checker).some((tag) => tag.name === "example" && text(tag.text) !== "");
}

function isInternal(symbol: ts.Symbol): boolean {
  return symbol.getJsDocTags(checker).some((tag) => tag.name === "internal");
}

/** Declared in the package's own declaration files (not in lib.d.ts or a dependency). */
function isOwn(declaration: ts.Declaration): boolean {
  return declaration.getSourceFile().fileName.startsWith(dist);
}

/** Public methods and accessors of a class, instance and static, declared by the package. */
function classMembers(cls: ts.Symbol): [name: string, member: ts.Symbol][] {
  const out: [string, ts.Symbol][] = [];
  const instance = checker.getDeclaredTypeOfSymbol(cls);
  const constructor = checker.getTypeOfSymbol(cls);
  const members = [
    ...checker.getPropertiesOfType(instance).map((m) => [m.name, m] as const),
    ...checker
      .getPropertiesOfType(constructor)
      .filter((m) => m.name !== "prototype")
      .map((m) => [`static ${m.name}`, m] as const),
  ];
  for (const [name, member] of members) {
    const declarations = (member.declarations ?? []).filter(isOwn);
    const callable = declarations.filter(
      (d) => ts.isMethodDeclaration(d) || ts.isMethodSignature(d) || ts.isGetAccessorDeclaration(d) || ts.isSetAccessorDeclaration(d),
    );
    if (callable.length === 0 || member.name.startsWith("#") || member.name.startsWith("__@")) continue;
    const hidden = callable.every((d) => {
      const flags = ts.getCombinedModifierFlags(d);
      return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 || ts.isPrivateIdentifier(d.name!);
    });
    if (hidden || isInternal(member)) continue;
    out.push([name, member]);
  }
  return out;
}

/** What is wrong with the TSDoc of one entry's exports: `"<symbol>: <problem>"`, sorted. */
function undocumented(entry: string): { problems: string[]; checked: number } {
  const file = program.getSourceFile(join(dist, `${entry}.d.ts`));
  if (file === undefined) throw new Error(`dist/${entry}.d.ts was not loaded`);
  const module = checker.getSymbolAtLocation(file);
  // A declaration file without exports is no module: nothing to check (yet).
  const exports = module === undefined ? [] : checker.getExportsOfModule(module);
  const problems: string[] = [];
  for (const exported of exports) {
    const name = exported.name;
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const typeOnly = (target.flags & VALUE) === 0 || (exported.declarations ?? []).some((d) => ts.isTypeOnlyImportOrExportDeclaration(d));
    if (!typeOnly) {
      if (!hasExample(target)) problems.push(`${name}: no @example`);
      if (target.flags & ts.SymbolFlags.Class) {
        for (const [member, symbol] of classMembers(target)) {
          if (!hasExample(symbol)) problems.push(`${name}.${member}: no @example`);
        }
      }
    } else if (target.flags & TYPE || target.flags & VALUE) {
      if (text(target.getDocumentationComment(checker)) === "") problems.push(`${name} (type): no TSDoc summary`);
    }
  }
  return { problems: problems.sort(), checked: exports.length };
}

describe("TSDoc in the built declarations", () => {
  it.each(ENTRIES)("every export of dist/%s.d.ts is documented (values with an @example)", (entry) => {
    const { problems } = undocumented(entry);
    if (problems.length > 0) expect.fail(`dist/${entry}.d.ts: ${problems.length} exports lack TSDoc:\n  ${problems.join("\n  ")}\n`);
  });

  it("finds the exports of the core entries (the check is not vacuous)", () => {
    expect(undocumented("index").checked).toBeGreaterThan(50);
    expect(undocumented("redis").checked).toBeGreaterThan(5);
    expect(undocumented("upstash").checked).toBeGreaterThan(5);
    // Members of classes are checked too: Cache has every command.
    const index = checker.getSymbolAtLocation(program.getSourceFile(join(dist, "index.d.ts"))!)!;
    const cacheClass = checker.getExportsOfModule(index).find((s) => s.name === "Cache")!;
    const members = classMembers(cacheClass.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(cacheClass) : cacheClass).map(([n]) => n);
    expect(members).toEqual(expect.arrayContaining(["get", "set", "lock", "withLock", "early", "name"]));
    expect(members).not.toContain("core"); // @internal
    // The lean class: every command and the simple strategy, no other strategy.
    const core = checker.getSymbolAtLocation(program.getSourceFile(join(dist, "core.d.ts"))!)!;
    const coreClass = checker.getExportsOfModule(core).find((s) => s.name === "CoreCache")!;
    const coreMembers = classMembers(coreClass.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(coreClass) : coreClass).map(([n]) => n);
    expect(coreMembers).toEqual(expect.arrayContaining(["get", "set", "lock", "withLock", "cache", "detect", "name"]));
    expect(coreMembers).not.toContain("failover");
    expect(undocumented("core").checked).toBeGreaterThan(40);
  });
});

// ------------------------------------------------------------------------------ README code blocks

/** Names the README's examples use without defining them: the reader's own code. */
const PRELUDE = `// Ambient placeholders for the README's examples (the reader's own code and data).
declare const db: any;
declare const env: any;
declare const api: any;
declare const request: Request;
declare const user: any;
declare const req: any;
declare const Deno: any;
declare const Bun: any;
declare function loadConfig(): Promise<any>;
declare function buildReport(): Promise<any>;
declare function fetchUser(id: string): Promise<any>;
declare function fetchRates(): Promise<any>;
declare function loadReport(id: string): Promise<any>;
declare function getFeed(id: string): Promise<any>;
declare function getProfile(id: string): Promise<any>;
declare function getConfig(name: string): Promise<any>;
declare function runMigration(version: string): Promise<any>;
declare function sendSms(to: string, text: string): Promise<any>;
declare function callApi(path: string): Promise<any>;
declare function callFlaky(path: string): Promise<any>;
declare function search(query: string): Promise<any>;
declare function handler(request: Request): Promise<Response>;
declare function render(value: unknown): string;
declare class UpstreamError extends Error {}
declare class NotFoundError extends Error {}
type User = { id: string; name: string };
type Item = { id: string; title: string };
`;

interface Block {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  code: string;
}

/** The ```ts blocks of a Markdown text (```text, ```js, ```sh … are not checked). */
function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ line: start + 1, code: body.join("\n") });
  }
  return blocks;
}

const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks = tsBlocks(readme);
const work = join(root, ".tmp", `readme-blocks-${process.pid}`);
let diagnostics: Map<number, string[]>;

/** Type-checks every block at once, each as its own module; diagnostics by block line. */
function checkBlocks(): Map<number, string[]> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, "prelude.d.ts"), PRELUDE);
  const files = new Map<string, Block>();
  for (const block of blocks) {
    const file = join(work, `readme-line-${block.line}.ts`);
    // `export {}` makes every block a module (top-level await, no clashes between blocks).
    writeFileSync(file, `${block.code}\nexport {};\n`);
    files.set(file, block);
  }
  const src = join(root, "src");
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.esnext.disposable.d.ts", "lib.esnext.decorators.d.ts"],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    typeRoots: [join(root, "node_modules", "@types")],
    types: ["node"],
    baseUrl: root,
    // The package as a user imports it (Deno: from npm or JSR), mapped to the sources.
    // Entries that are folders (cashews/hono, cashews/prometheus, cashews/testing) are mapped by name:
    // the wildcard would miss them and resolve them to dist/, whose classes are other declarations.
    paths: {
      ...Object.fromEntries(
        ["hono", "prometheus", "testing"].flatMap((entry) =>
          ["cashews", "npm:cashews", "@cashews/cashews"].map((name) => [`${name}/${entry}`, [join(src, entry, "index.ts")]]),
        ),
      ),
      cashews: [join(src, "index.ts")],
      "cashews/*": [join(src, "*.ts")],
      "npm:cashews": [join(src, "index.ts")],
      "npm:cashews/*": [join(src, "*.ts")],
      "@cashews/cashews": [join(src, "index.ts")],
      "@cashews/cashews/*": [join(src, "*.ts")],
    },
  };
  const program = ts.createProgram([join(work, "prelude.d.ts"), ...files.keys()], options);
  const out = new Map<number, string[]>(blocks.map((b) => [b.line, []]));
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const block = diagnostic.file === undefined ? undefined : files.get(diagnostic.file.fileName);
    if (diagnostic.file !== undefined && block === undefined) continue; // the library's own sources: `npm run typecheck`
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n    ");
    if (block === undefined) {
      for (const list of out.values()) list.push(`(global) ${message}`);
      continue;
    }
    const { line, character } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const source = block.code.split("\n")[line] ?? "";
    out.get(block.line)!.push(`block line ${line + 1}:${character + 1}: ${message}\n      ${source.trim()}`);
  }
  return out;
}

describe("README.md", () => {
  beforeAll(() => {
    diagnostics = checkBlocks();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("has TypeScript examples to check", () => {
    expect(blocks.length).toBeGreaterThan(10);
  });

  it.each(blocks.map((b) => [b.line, b.code.split("\n")[0]!.slice(0, 60)] as const))(
    "```ts block at README.md:%i type-checks (%s)",
    (line) => {
      const problems = diagnostics.get(line)!;
      if (problems.length > 0) expect.fail(`README.md:${line}: the example does not type-check:\n  ${problems.join("\n  ")}\n`);
    },
  );
});
