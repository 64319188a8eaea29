import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The import graph of the source tree (type-only imports included: a circle of types is still two
 * rooms that cannot be understood apart). No circle anywhere, and the ground floor (`contract/`)
 * imports nothing but itself and the providers' types. Lint has no import/no-cycle plugin here;
 * this is the equivalent check, run by `npm test`.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCE_DIRS = [
  'activities',
  'api',
  'client',
  'common',
  'contract',
  'providers',
  'sandbox',
  'scripts',
  'worker',
  'workflows',
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;

/** The relative imports of one file, resolved to files of the tree. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), spec);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => existsSync(f));
    if (target) out.push(target);
  }
  return out;
}

/** Every elementary circle found by a depth-first walk (one per back edge). */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

const rel = (f: string) => path.relative(ROOT, f);
const graph = new Map<string, string[]>();
for (const dir of SOURCE_DIRS)
  for (const file of sourceFiles(path.join(ROOT, dir)))
    graph.set(file, importsOf(file, readFileSync(file, 'utf8')));

test('the checker finds a circle when there is one', () => {
  expect(
    circles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
        ['d', ['a']],
      ]),
    ),
  ).toEqual([['a', 'b', 'c', 'a']]);
  expect(importsOf(path.join(ROOT, 'x', 'y.ts'), "import type { A } from '../contract/ids';\n")).toEqual([
    path.join(ROOT, 'contract', 'ids.ts'),
  ]);
});

test('the source tree has no import circle', () => {
  expect(graph.size).toBeGreaterThan(100);
  expect([...graph.values()].flat().length).toBeGreaterThan(300);
  expect(circles(graph).map((c) => c.map(rel).join(' → '))).toEqual([]);
});

test('contract/ imports only contract/ and the providers’ types', () => {
  const outside = [...graph]
    .filter(([file]) => rel(file).startsWith('contract/'))
    .flatMap(([file, deps]) =>
      deps
        .map(rel)
        .filter((d) => !d.startsWith('contract/') && d !== 'providers/types.ts')
        .map((d) => `${rel(file)} → ${d}`),
    );
  expect(outside).toEqual([]);
});
