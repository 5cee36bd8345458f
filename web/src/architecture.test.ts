// The client's modules import one another one way: no loop, type-only
// imports included (a loop of types still ties two modules into one).

/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest';

// Every module's text, by its path from here (`./model/index.ts`), tests left out.
const SOURCES: Record<string, string> = import.meta.glob(['./**/*.ts', './**/*.tsx', '!./**/*.test.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
});

/** `spec` (`../i18n`) imported from `from` (`./model/index.ts`), as a path like the keys'. */
function resolve(from: string, spec: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const p of spec.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}

/** The modules of this tree that `file` imports (static imports and re-exports). */
function importsOf(file: string, known: Set<string>): string[] {
  const found: string[] = [];
  for (const m of SOURCES[file].matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"](\.[^'"]+)['"]/g)) {
    const base = resolve(file, m[1]);
    const target = [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((p) => known.has(p));
    if (target) found.push(target);
  }
  return found;
}

/** The loops of the import graph, each as the list of its modules. */
export function loops(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

describe('the import graph', () => {
  it('finds a loop when there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(loops(g)).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('of web/src has no loop', () => {
    const files = Object.keys(SOURCES);
    const known = new Set(files);
    const graph = new Map(files.map((f) => [f, importsOf(f, known)]));
    // The reading finds the imports (so that an empty graph does not pass for a clean one).
    expect(graph.get('./model/index.ts')).toContain('./model/rooms.ts');
    expect(graph.get('./model/index.ts')).toContain('./xmpp/stanzas.ts');
    expect(loops(graph).map((l) => l.join(' → '))).toEqual([]);
  });
});
