/**
 * Every ```ts block of README.md compiles as written, against the built package (`import …
 * from "sockurl"` resolves through node_modules/sockurl → .. and package.json "exports" to
 * dist/src/index.d.ts, which `npm test` builds first), with `strict`, NodeNext modules and
 * top-level await, the way a user's project would see it.
 *
 * Snippets may lean on context the prose gives: names they use without declaring get a
 * declaration from PRELUDE (`socket` is a connected Socket, …), and sockurl's exports are
 * imported when the block does not import them itself. A block that needs something else says
 * so in an HTML comment on the line right before its fence, which GitHub does not render:
 *
 *     <!-- prelude: declare const server: DatagramSocket; -->
 *
 * (sockurl's exported types are in scope there). New blocks need nothing else.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const dist = fileURLToPath(new URL("..", import.meta.url));
const root = join(dist, "..");

/** Names a README snippet may use without declaring, and what they are. */
const PRELUDE: Record<string, string> = {
  socket: "Socket",
  peer: "Socket",
  client: "Socket",
  server: "Server",
  ca: "string",
  cert: "string",
  key: "string",
  handle: "(...args: unknown[]) => void",
};

interface Block {
  /** 1-based README line of the block's first code line. */
  line: number;
  code: string;
  prelude: string;
}

function readmeBlocks(text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const prelude = /^<!--\s*prelude:\s*(.*?)\s*-->\s*$/.exec(lines[i - 1] ?? "")?.[1] ?? "";
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join("\n"), prelude });
    i = end;
  }
  return blocks;
}

/** Top-level names a snippet declares or imports itself (so the prelude must not). */
function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  const source = ts.createSourceFile("block.ts", code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) for (const d of statement.declarationList.declarations) bind(d.name);
    else if ((ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) && statement.name) names.add(statement.name.text);
    else if (ts.isImportDeclaration(statement) && statement.importClause) {
      const clause = statement.importClause;
      if (clause.name) names.add(clause.name.text);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      else if (bindings) for (const element of bindings.elements) names.add(element.name.text);
    }
  }
  return names;
}

test("every ```ts block of README.md compiles with tsc --strict against the built package", { timeout: 120_000 }, async () => {
  assert.ok(existsSync(join(dist, "src", "index.d.ts")), "dist/src/index.d.ts is missing: run `npm run build` (npm test does)");
  const blocks = readmeBlocks(readFileSync(join(root, "README.md"), "utf8"));
  assert.ok(blocks.length > 0, "README.md has no ```ts blocks");
  const sockurl = await import("sockurl");
  const values = Object.keys(sockurl);
  const types = ["Socket", "Server", "DatagramSocket", "Address", "Datagram", "Endpoint", "CallOptions",
    "ConnectOptions", "ListenOptions", "TlsOptions", "DatagramTarget", "DatagramUrl"];
  // Inside the package, so that "sockurl" resolves as it does for an installed copy.
  const dir = join(dist, `readme-types-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const files = new Map<string, Block>();
    blocks.forEach((block, n) => {
      const own = declaredNames(block.code);
      const imports = values.filter((name) => !own.has(name));
      const typeImports = types.filter((name) => !own.has(name) && !imports.includes(name));
      const declared = Object.entries(PRELUDE).filter(([name]) => !own.has(name) && !new RegExp(`\\b${name}\\b`).test(block.prelude))
        .map(([name, type]) => `declare const ${name}: ${type};`);
      // One prelude line, so that line N+1 of the file is line N of the block.
      const prelude = [
        `import { ${imports.join(", ")} } from "sockurl";`,
        typeImports.length > 0 ? `import type { ${typeImports.join(", ")} } from "sockurl";` : "",
        ...declared, block.prelude, "export {};",
      ].join(" ");
      const file = join(dir, `block-${n + 1}.mts`);
      writeFileSync(file, `${prelude}\n${block.code}\n`);
      files.set(file, block);
    });
    const program = ts.createProgram([...files.keys()], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2023.d.ts"],
      types: ["node"],
      typeRoots: [join(root, "node_modules", "@types")],
    });
    const messages = ts.getPreEmitDiagnostics(program).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      if (!d.file || d.start === undefined) return `TS${d.code}: ${text}`;
      const block = files.get(d.file.fileName);
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      if (!block) return `${d.file.fileName}:${line + 1}:${character + 1}: TS${d.code}: ${text}`;
      const where = line === 0 ? `prelude of the block at README.md:${block.line}` : `README.md:${block.line + line - 1}:${character + 1}`;
      return `${where}: TS${d.code}: ${text}`;
    });
    assert.equal(messages.length, 0, `README.md blocks do not compile:\n${messages.join("\n")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
