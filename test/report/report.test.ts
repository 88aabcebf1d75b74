// `insalun report`: a tiny compare run (2 seeds, a grad and an IG mask row, a relearning attack)
// made into the HTML and Markdown reports, bad input refused with one message, and the HTML opened
// in a real headless Chromium: every chart must draw (marks in its SVG, a non-blank screenshot)
// with no console error and no request. Without chromium the browser test skips and says why;
// .ci/run installs it and sets INSALUN_REQUIRE_BROWSER=1, which makes its absence a failure.
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCompareConfig, runCompare } from '../../src/experiment/compare.js';
import { defaultCompute } from '../../src/native/index.js';
import { relearnTable, specificityTable } from '../../src/report/charts.js';
import type { ReportData } from '../../src/report/read.js';
import { runCli } from '../helpers/cli.js';

const CHROMIUM = process.env.INSALUN_CHROMIUM ?? '/usr/bin/chromium';
const requireBrowser = process.env.INSALUN_REQUIRE_BROWSER === '1';
const browserMissing = existsSync(CHROMIUM) ? '' : `no chromium at ${CHROMIUM} (apt-get install chromium)`;
if (browserMissing && requireBrowser) throw new Error(`INSALUN_REQUIRE_BROWSER=1 but ${browserMissing}`);
const skipWhy = browserMissing ? ` (skipped: ${browserMissing}; .ci/run installs it)` : '';

const CHARTS = [
  'metric-avgGap',
  'metric-UA',
  'metric-RA',
  'metric-TA',
  'metric-MIA',
  'relearn-curves',
  'mask-density',
  'layer-type-shares',
  'ig-completeness',
  'training-loss',
  'training-accuracy',
];

const epoch = { epochs: 1, batchSize: 16, augment: false };
// A tuned row's name, longer than Vega's default label limit: charts must show it whole.
const LONG_NAME = 'SalUn retain-normalized [lr 0.01, ratio 0.7; gap, no-retrain]';
const config = parseCompareConfig(
  {
    name: 'report',
    synthetic: { trainSize: 48, testSize: 16, imageSize: 8, seed: 3 },
    width: 4,
    train: { epochs: 2, batchSize: 16, schedule: 'multistep', augment: false },
    forget: 'random:8',
    seeds: [1, 2],
    includeOriginal: true,
    relearn: { steps: 3, count: 4 },
    methods: [
      { name: 'Retrain', method: 'retrain' },
      {
        name: LONG_NAME,
        method: 'rl',
        hyper: epoch,
        mask: { method: 'grad', ratio: 0.5, batchSize: 16, augment: false },
      },
      {
        name: 'InSalUn',
        method: 'rl',
        hyper: epoch,
        mask: { method: 'ig', ratio: 0.5, steps: 2, batchSize: 16, augment: false },
      },
    ],
  },
  'report test config',
);

let scratch: string;
let out: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'insalun-report-'));
  out = join(scratch, 'compare');
  await runCompare(config, out, defaultCompute('cpu'));
}, 60_000);
afterAll(() => rm(scratch, { recursive: true, force: true }));

it('writes one self-contained HTML file with the table and every chart inline', async () => {
  const r = await runCli('report', out);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const html = await readFile(join(out, 'report.html'), 'utf8');
  for (const id of CHARTS) expect(html).toContain(`data-chart="${id}"><svg`);
  expect(html).toContain('<td>InSalUn</td>');
  expect(html).toContain("default-src 'none'");
  expect(html).not.toMatch(/<script|<link|(src|href)="(https?:)?\/\//);
  expect(html).not.toContain('id="privacy"'); // no privacy results exist: the section is absent
  expect(html).not.toContain(scratch); // nothing names a path of the machine it ran on
  // Atomic writes leave no temporary files behind.
  expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

it('writes Markdown with the charts as SVG files beside it', async () => {
  const target = join(scratch, 'md', 'summary.md');
  const r = await runCli('report', out, '--format', 'md', '--out', target);
  expect(r.code).toBe(0);
  const md = await readFile(target, 'utf8');
  expect(md).toContain('| InSalUn |');
  for (const id of CHARTS) {
    expect(md).toContain(`(summary-charts/${id}.svg)`);
    const svg = await readFile(join(scratch, 'md', 'summary-charts', `${id}.svg`), 'utf8');
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    // Charts by method label each row with its whole name, never cut to "...".
    if (id.startsWith('metric-') || id === 'relearn-curves') expect(svg).toContain(LONG_NAME);
    expect(svg).not.toContain('…');
  }
  // The relearning curves as a table: one column per step (the attack ran 3), and what it regained.
  expect(md).toContain('| Method | step 0 | step 1 | step 2 | step 3 | regained |');
  expect(md).toMatch(/\| InSalUn( \| -?\d+\.\d\d){5} \|/);
  // The specificity figures as a table: no second forget set here, so no Jaccard; the shares per mask.
  expect(md).toContain('| Mask | Other forget set | Jaccard | Seeds | BN: parameters |');
  expect(md).toMatch(/\| grad 0\.5 \| - \| - \| - \| \d+\.\d\d% \|/);
  expect(md).toMatch(/\| ig 0\.5 \| - \| - \| - \| \d+\.\d\d% \|/);
});

it('tabulates the relearning curves: the mean over the seeds per step, and the last step minus the first', () => {
  const points = [1, 2].flatMap((seed) =>
    [0, 1, 2].map((step) => ({ method: 'SalUn', seed, step, forgetAccuracy: 80 + step * seed })),
  );
  const table = relearnTable({ methods: ['Retrain', 'SalUn'], seeds: [1, 2] } as unknown as ReportData, points);
  expect(table.columns).toEqual(['Method', 'step 0', 'step 1', 'step 2', 'regained']);
  expect(table.rows).toEqual([['SalUn', '80.00', '81.50', '83.00', '3.00']]);
});

it('tabulates the Jaccard overlap per mask and other forget set, mean ± std over the seeds', () => {
  const layerTypes = [1, 2].flatMap((seed) => [
    { mask: 'grad 0.5', seed, type: 'batchnorm', quantity: 'parameters' as const, share: 0.004 },
    { mask: 'grad 0.5', seed, type: 'batchnorm', quantity: 'saliency' as const, share: seed === 1 ? 0.01 : 0.03 },
    { mask: 'grad 0.5', seed, type: 'linear', quantity: 'mask' as const, share: 0.5 },
  ]);
  const jaccard = [
    { mask: 'grad 0.5', seed: 1, jaccard: 0.6, against: 'validation' },
    { mask: 'grad 0.5', seed: 2, jaccard: 0.7, against: 'validation' },
    { mask: 'ig 0.5', seed: 1, jaccard: 0.9, against: 'validation' },
  ];
  const table = specificityTable({ layerTypes, jaccard } as unknown as ReportData);
  expect(table.rows).toEqual([
    ['grad 0.5', 'validation', '0.650 ± 0.071', '2', '0.40%', '2.00%', '-', '-', '-', '50.00%'],
    ['ig 0.5', 'validation', '0.900', '1', '-', '-', '-', '-', '-', '-'],
  ]);
});

it('says why there are no relearning curves when the run had no relearning attack', async () => {
  const dir = join(scratch, 'no-relearn');
  await cp(out, dir, { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
  const results = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
  delete results.config.relearn;
  for (const row of results.raw) for (const record of row.records) record.relearn = null;
  await writeFile(join(dir, 'results.json'), JSON.stringify(results));
  expect((await runCli('report', dir)).code).toBe(0);
  const html = await readFile(join(dir, 'report.html'), 'utf8');
  expect(html).toMatch(/data-note="relearn">No relearning curves: the config has no &quot;relearn&quot; section/);
  expect(html).not.toContain('data-chart="relearn-curves"');
});

it('refuses a folder that is not a compare output, or broken results, with one clear error', async () => {
  const empty = join(scratch, 'empty');
  await cp(join(out, 'seed-1', 'original', 'summary.json'), join(empty, 'seed-1', 'summary.json'));
  let r = await runCli('report', empty);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(
    /^insalun: error: .*empty: not a compare output folder: no results\.json \(it has seed folders/,
  );
  expect(r.err.trim().split('\n')).toHaveLength(1);

  r = await runCli('report', join(scratch, 'nowhere'));
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/nowhere: no such folder/);

  const broken = join(scratch, 'broken');
  await writeFile(join(empty, 'results.json'), '{"columns": [');
  await cp(empty, broken, { recursive: true });
  r = await runCli('report', broken);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/results\.json: not JSON/);

  await writeFile(join(broken, 'results.json'), '{"rows": []}');
  r = await runCli('report', broken);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/results\.json: not compare's results/);
});

/** Pixels of a PNG that differ from white, and how many distinct colours it has. */
async function inkOf(png: Buffer): Promise<{ ink: number; colours: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let ink = 0;
  const colours = new Set<number>();
  for (let i = 0; i < data.length; i += info.channels) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (r < 235 || g < 235 || b < 235) ink++;
    colours.add((r << 16) | (g << 8) | b);
  }
  return { ink, colours: colours.size };
}

describe.skipIf(Boolean(browserMissing))(`the HTML report in headless Chromium${skipWhy}`, () => {
  it('draws every chart, with no console error and no request', async () => {
    const html = join(out, 'report.html');
    if (!existsSync(html)) expect((await runCli('report', out)).code).toBe(0);
    const { chromium } = await import('playwright-core');
    const userDataDir = await mkdtemp(join(scratch, 'chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1200, height: 900 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      const url = pathToFileURL(html).href;
      page.on('request', (r) => {
        if (r.url() !== url) problems.push(`request: ${r.url()}`);
      });
      await page.goto(url, { waitUntil: 'load' });
      expect(await page.locator('figure[data-chart]').evaluateAll((f) => f.map((e) => e.id))).toEqual(CHARTS);
      const seen: Record<string, string> = {};
      for (const id of CHARTS) {
        const figure = page.locator(`#${id}`);
        // Vega's data marks (bars, points, lines, error bars), not its axes or legends.
        const marks = await figure.locator('svg g.role-mark > *').count();
        const box = await figure.locator('svg').boundingBox();
        const { ink, colours } = await inkOf(await figure.locator('svg').screenshot());
        seen[id] =
          `${marks} marks, ${Math.round(box?.width ?? 0)}x${Math.round(box?.height ?? 0)} px, ${ink} inked px, ${colours} colours`;
        expect(marks, `${id}: ${seen[id]}`).toBeGreaterThan(1);
        expect(box!.width * box!.height, `${id}: ${seen[id]}`).toBeGreaterThan(100 * 100);
        expect(ink, `${id}: ${seen[id]}`).toBeGreaterThan(2000);
        expect(colours, `${id}: ${seen[id]}`).toBeGreaterThan(10);
      }
      if (process.env.INSALUN_REPORT_TEST_VERBOSE === '1') console.log(seen);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
