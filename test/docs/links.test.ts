// The README and docs/ link to files that exist, and the code cites the repository's own method.md.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
/** The files under dir (recursively) whose names match pattern, relative to the root. */
function filesUnder(dir: string, pattern: RegExp): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return filesUnder(path, pattern);
    return pattern.test(name) ? [path] : [];
  });
}
const sources = (dir: string) => filesUnder(dir, /\.(ts|mjs|js|py|sh|h|cpp|cu)$/);
// docs/results/ holds published results and the reports beside them.
const docs = ['README.md', ...filesUnder('docs', /\.md$/)];

describe('documentation', () => {
  it('links only to files that exist', () => {
    const broken: string[] = [];
    for (const file of docs) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(root, dirname(file), target))) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('is cited as docs/method.md, which exists', () => {
    expect(existsSync(join(root, 'docs', 'method.md'))).toBe(true);
    const bare: string[] = [];
    for (const file of ['src', 'test', 'scripts', 'native'].flatMap(sources)) {
      if (file === join('test', 'docs', 'links.test.ts')) continue; // this test names the pattern
      const text = readFileSync(join(root, file), 'utf8');
      if (/(^|[^/])method\.md/m.test(text)) bare.push(relative(root, join(root, file)));
    }
    expect(bare).toEqual([]);
  });
});
