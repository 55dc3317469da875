// @ts-check
import {readdirSync, readFileSync, statSync} from 'node:fs';
import {dirname, join, relative, resolve, sep} from 'node:path';

import ts from 'typescript';

/**
 * Lint rule `synod/no-import-cycles`: no file of `packages/` may take part in an import
 * cycle, at two levels.
 *
 * - Files: a file may not import (types included) a file that imports it back, directly or
 *   through others. Type-only imports count: they leave no trace at run time, but a cycle of
 *   types is still two modules that cannot be understood, tested or moved one without the
 *   other.
 * - Folders: within a package's `src/`, the top folders (`member/`, `api/`, `auth/`, ...) and
 *   the files directly in `src/` form a graph that must be acyclic too, so layers stay
 *   layers: `member/applier.ts` importing `api/wire.ts` while `api/` imports `member/` is a
 *   cycle even when no single file closes it. Tests (`*.test.ts`) are left out of it.
 *
 * Only relative imports are followed; imports between packages are nx's business
 * (`@nx/enforce-module-boundaries`). The file being linted is read from its source text, the
 * others from disk, so the rule also judges a file that is being edited.
 *
 * Options: `{allow: [['packages/x/src/a', 'packages/x/src/b'], ...]}`: imports from files under
 * the first path (a folder or a file) of files under the second are known debts, left out of
 * both graphs (each with its reason where it is configured).
 *
 * Example: with `api/` importing `member/member.ts`, linting `member/applier.ts` that
 * imports `../api/wire.js` reports `member -> api -> member`.
 */

/** @typedef {{from: string, to: string}} Edge */

/** Relative imports of a source text, resolved to files, with type-only ones included. */
function importsOf(/** @type {string} */ file, /** @type {string} */ text) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  /** @type {{specifier: string, target: string}[]} */
  const found = [];
  for (const statement of source.statements) {
    let specifier;
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      specifier = statement.moduleSpecifier.text;
    } else if (
      ts.isExportDeclaration(statement) &&
      statement.moduleSpecifier !== undefined &&
      ts.isStringLiteral(statement.moduleSpecifier)
    ) {
      specifier = statement.moduleSpecifier.text;
    }
    if (specifier === undefined || !specifier.startsWith('.')) continue;
    const target = resolveRelative(file, specifier);
    if (target !== undefined) found.push({specifier, target});
  }
  return found;
}

/** @type {Map<string, boolean>} */
const existence = new Map();
function isFile(/** @type {string} */ path) {
  let known = existence.get(path);
  if (known === undefined) {
    try {
      known = statSync(path).isFile();
    } catch {
      known = false;
    }
    existence.set(path, known);
  }
  return known;
}

/** `./x.js` from `file` as the TypeScript file it names (`x.ts`, `x.tsx`, `x/index.ts`). */
function resolveRelative(/** @type {string} */ file, /** @type {string} */ specifier) {
  const base = resolve(dirname(file), specifier);
  const stem = base.replace(/\.(m|c)?js$/, '');
  for (const candidate of [
    base,
    `${stem}.ts`,
    `${stem}.tsx`,
    `${stem}.mts`,
    join(base, 'index.ts'),
  ]) {
    if (/\.(m|c)?tsx?$/.test(candidate) && isFile(candidate)) return candidate;
  }
  return undefined;
}

/** @type {Map<string, string[]>} */
const diskImports = new Map();
/** The files `file` imports, as it is on disk. */
function importsOnDisk(/** @type {string} */ file) {
  let targets = diskImports.get(file);
  if (targets === undefined) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // A file named by an import but gone: it imports nothing.
    }
    // TypeScript's import scanner, much cheaper than a parse: static imports and re-exports
    // (type-only ones too), plus import() calls and types, which are dependencies as well.
    targets = ts
      .preProcessFile(text, true, false)
      .importedFiles.map(i => i.fileName)
      .filter(specifier => specifier.startsWith('.'))
      .map(specifier => resolveRelative(file, specifier))
      .filter(target => target !== undefined);
    diskImports.set(file, targets);
  }
  return targets;
}

/** `packages/<name>/src` of a file of a package's sources, else undefined. */
function sourceRootOf(/** @type {string} */ root, /** @type {string} */ file) {
  const parts = relative(root, file).split(sep);
  if (parts[0] !== 'packages' || parts[2] !== 'src' || parts.length < 4) return undefined;
  return join(root, ...parts.slice(0, 3));
}

/** The unit of the folder graph a file belongs to: its top folder under src, or itself. */
function folderOf(/** @type {string} */ srcRoot, /** @type {string} */ file) {
  const parts = relative(srcRoot, file).split(sep);
  return parts.length > 1 ? join(srcRoot, parts[0] ?? '') : file;
}

const isTest = (/** @type {string} */ file) => /\.test\.tsx?$/.test(file);

/** @type {Map<string, string[]>} */
const sourceFiles = new Map();
/** Every non-test TypeScript file under `srcRoot`. */
function filesUnder(/** @type {string} */ srcRoot) {
  let files = sourceFiles.get(srcRoot);
  if (files === undefined) {
    const found = /** @type {string[]} */ ([]);
    const walk = (/** @type {string} */ dir) => {
      for (const entry of readdirSync(dir, {withFileTypes: true})) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(m)?tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts') && !isTest(path))
          found.push(path);
      }
    };
    walk(srcRoot);
    files = found;
    sourceFiles.set(srcRoot, files);
  }
  return files;
}

/** @type {Map<string, Map<string, Map<string, Edge[]>>>} */
const folderGraphs = new Map();
/**
 * The folder graph of the package under `srcRoot` as it is on disk: for each folder, the
 * folders it imports, each with the file imports that make the edge (allowed ones left out).
 */
function folderGraphOf(
  /** @type {string} */ srcRoot,
  /** @type {(from: string, to: string) => boolean} */ allowed,
) {
  let graph = folderGraphs.get(srcRoot);
  if (graph === undefined) {
    graph = new Map();
    for (const from of filesUnder(srcRoot)) {
      const a = folderOf(srcRoot, from);
      for (const to of importsOnDisk(from)) {
        if (!to.startsWith(srcRoot + sep) || isTest(to) || allowed(from, to)) continue;
        const b = folderOf(srcRoot, to);
        if (a === b || allowed(a, b)) continue;
        let out = graph.get(a);
        if (out === undefined) graph.set(a, (out = new Map()));
        let edges = out.get(b);
        if (edges === undefined) out.set(b, (edges = []));
        edges.push({from, to});
      }
    }
    folderGraphs.set(srcRoot, graph);
  }
  return graph;
}

/** The shortest path of imports from `start` to `goal`, or undefined when there is none. */
function pathOf(
  /** @type {string} */ start,
  /** @type {string} */ goal,
  /** @type {(node: string) => Iterable<string>} */ next,
) {
  /** @type {Map<string, string | undefined>} */
  const previous = new Map([[start, undefined]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = /** @type {string} */ (queue[i]);
    if (node === goal) {
      const path = [node];
      for (let p = previous.get(node); p !== undefined; p = previous.get(p)) path.unshift(p);
      return path;
    }
    for (const n of next(node)) {
      if (previous.has(n)) continue;
      previous.set(n, node);
      queue.push(n);
    }
  }
  return undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noImportCycles = {
  meta: {
    type: 'problem',
    docs: {description: 'Forbid import cycles between files, and between the folders of a package'},
    schema: [
      {
        type: 'object',
        properties: {
          allow: {
            type: 'array',
            items: {type: 'array', items: {type: 'string'}, minItems: 2, maxItems: 2},
          },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      fileCycle: 'Import cycle: {{cycle}}. Move what both sides need into a module below them.',
      folderCycle:
        'Folder cycle: {{cycle}} ({{back}}). A layer may not import a layer that imports it: ' +
        'depend on an interface declared below, or move the shared part down.',
    },
  },
  create(context) {
    const root = context.cwd;
    const file = context.filename;
    const srcRoot = sourceRootOf(root, file);
    if (!relative(root, file).startsWith(`packages${sep}`)) return {};
    /** @type {{allow?: string[][]}} */
    const options = context.options[0] ?? {};
    const allow = (options.allow ?? []).map(([a, b]) => [join(root, a ?? ''), join(root, b ?? '')]);
    const under = (/** @type {string} */ path, /** @type {string} */ prefix) =>
      path === prefix || path.startsWith(prefix + sep);
    /** Whether imports from `from` of `to` (files or folders) are an allowed debt. */
    const allowed = (/** @type {string} */ from, /** @type {string} */ to) =>
      allow.some(([a, b]) => a !== undefined && b !== undefined && under(from, a) && under(to, b));
    const show = (/** @type {string} */ path) =>
      relative(srcRoot ?? join(root, 'packages'), path)
        .split(sep)
        .join('/');

    return {
      Program(program) {
        const own = importsOf(file, context.sourceCode.text);
        const nextFile = (/** @type {string} */ f) =>
          (f === file ? own.map(i => i.target) : importsOnDisk(f)).filter(t => !allowed(f, t));

        // The package's folder edges, with the linted file's own imports in place of its disk ones.
        const folderEdges = (/** @type {string} */ a) => {
          /** @type {Map<string, Edge>} */
          const out = new Map();
          if (srcRoot === undefined) return out;
          for (const [b, edges] of folderGraphOf(srcRoot, allowed).get(a) ?? []) {
            const edge = edges.find(e => e.from !== file);
            if (edge !== undefined) out.set(b, edge);
          }
          if (a === folderOf(srcRoot, file)) {
            for (const {target} of own) {
              if (sourceRootOf(root, target) !== srcRoot || isTest(target)) continue;
              const b = folderOf(srcRoot, target);
              if (b !== a && !allowed(a, b) && !out.has(b)) out.set(b, {from: file, to: target});
            }
          }
          return out;
        };

        for (const node of program.body) {
          if (
            node.type !== 'ImportDeclaration' &&
            node.type !== 'ExportNamedDeclaration' &&
            node.type !== 'ExportAllDeclaration'
          )
            continue;
          const specifier = node.source?.value;
          if (typeof specifier !== 'string' || !specifier.startsWith('.')) continue;
          const target = resolveRelative(file, specifier);
          if (target === undefined || allowed(file, target)) continue;
          const back = pathOf(target, file, nextFile);
          if (back !== undefined) {
            context.report({
              node,
              messageId: 'fileCycle',
              data: {cycle: [file, ...back].map(show).join(' -> ')},
            });
            continue;
          }
          if (srcRoot === undefined || isTest(file) || sourceRootOf(root, target) !== srcRoot)
            continue;
          const a = folderOf(srcRoot, file);
          const b = folderOf(srcRoot, target);
          if (a === b || allowed(a, b)) continue;
          const loop = pathOf(b, a, f => folderEdges(f).keys());
          if (loop === undefined) continue;
          const [first, second] = loop;
          const edge =
            first === undefined || second === undefined
              ? undefined
              : folderEdges(first).get(second);
          context.report({
            node,
            messageId: 'folderCycle',
            data: {
              cycle: [a, ...loop].map(show).join(' -> '),
              back: edge === undefined ? '' : `${show(edge.from)} imports ${show(edge.to)}`,
            },
          });
        }
      },
    };
  },
};

/** The plugin that carries Synod's own lint rules. */
export default {meta: {name: 'synod'}, rules: {'no-import-cycles': noImportCycles}};
