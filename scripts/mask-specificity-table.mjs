// The table of scripts/mask-specificity.sh: one row per mask folder under DIR (mask_<method>.json
// written with a second forget set), in folder order; Markdown on stdout.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/mask-specificity-table.mjs DIR');
  process.exit(2);
}
const percent = (x) => `${(100 * x).toFixed(1)}%`;
const shareOf = (list, type) => list.find((t) => t.type === type)?.share ?? Number.NaN;
const rows = [];
for (const name of readdirSync(dir).sort()) {
  const folder = join(dir, name);
  if (!statSync(folder).isDirectory()) continue;
  const json = readdirSync(folder).find((f) => /^mask_.+\.json$/.test(f));
  if (!json) continue;
  const s = JSON.parse(readFileSync(join(folder, json), 'utf8'));
  if (!s.specificity) continue;
  const jaccard = (r) => s.specificity.jaccard.find((j) => j.ratio === r)?.jaccard.toFixed(3) ?? '-';
  const bnMask = s.masks.find((m) => m.ratio === 0.5)?.layerTypes.find((t) => t.type === 'batchnorm');
  rows.push([
    name,
    jaccard(0.3),
    jaccard(0.5),
    percent(shareOf(s.saliencyShare, 'batchnorm')),
    percent(shareOf(s.saliencyShare, 'linear')),
    bnMask ? percent(bnMask.density) : '-',
    s.completeness ? s.completeness.relativeGap.toExponential(1) : '-',
    s.seconds.toFixed(1),
  ]);
}
const first = rows.length
  ? JSON.parse(
      readFileSync(
        join(
          dir,
          rows[0][0],
          readdirSync(join(dir, rows[0][0])).find((f) => f.endsWith('.json')),
        ),
        'utf8',
      ),
    )
  : null;
const parameters = first?.masks[0].layerTypes ?? [];
const header = [
  'mask',
  'Jaccard r=0.3',
  'Jaccard r=0.5',
  'BN share of saliency',
  'linear share of saliency',
  'BN density of mask 0.5',
  'IG completeness gap',
  'seconds',
];
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
console.log(
  `\nParameters: ${parameters.map((t) => `${t.type} ${percent(t.parameterShare)}`).join(', ')}. Two independent random masks of ratio r overlap r/(2-r): 0.176 at 0.3, 0.333 at 0.5.`,
);
