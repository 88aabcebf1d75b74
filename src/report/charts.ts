// The report's charts as Vega-Lite specs, rendered to SVG strings headlessly (vega's View with no
// renderer, toSVG: no canvas, no browser, no network). Error bars are the sample standard
// deviation over seeds, as the table's "mean ± std".
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { formatMeanStd } from '../io/results.js';
import type { PrivacyMetric, RelearnPoint, ReportData } from './read.js';

export interface Chart {
  id: string; // an HTML id and a file name
  title: string;
  caption: string;
  spec: vl.TopLevelSpec;
}

export interface ReportSection {
  id: string;
  title: string;
  /** Why the section has no charts, when it has none. */
  note?: string;
  /** Figures the charts draw, as a table to read and cite. */
  table?: { columns: string[]; rows: string[][]; caption: string };
  charts: Chart[];
}

const METRICS: { key: 'avgGap' | 'UA' | 'RA' | 'TA' | 'MIA'; title: string; caption: string }[] = [
  {
    key: 'avgGap',
    title: 'Avg. Gap',
    caption: 'mean absolute gap to Retrain over UA, RA, TA and MIA (lower is better)',
  },
  { key: 'UA', title: 'UA', caption: 'unlearning accuracy: 100 - accuracy on the forget set' },
  { key: 'RA', title: 'RA', caption: 'accuracy on the retained training data' },
  { key: 'TA', title: 'TA', caption: 'accuracy on the test set' },
  { key: 'MIA', title: 'MIA', caption: 'MIA-efficacy: forget images a membership-inference attack calls non-members' },
];

// Tuned rows are named by their values and rules ("InSalUn retain-ft [lr 0.01, ratio 0.5; no-retrain]"),
// masks by their options, and two may differ only at the end: every label is shown whole (Vega's
// default cuts it at 180 px).
const wholeLabels = { labelLimit: 600 } as const;
const slantedLabels = { labelAngle: -30, ...wholeLabels } as const;
const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', background: 'white' } as const;

function metricChart(data: ReportData, key: (typeof METRICS)[number]['key'], title: string): vl.TopLevelSpec {
  const values = data.scores
    .map((s) => ({ method: s.method, seed: s.seed, value: s[key] }))
    .filter((v) => typeof v.value === 'number' && Number.isFinite(v.value));
  const x = { field: 'method', type: 'nominal', sort: data.methods, title: null, axis: slantedLabels } as const;
  return {
    ...base,
    title,
    width: Math.max(160, 48 * data.methods.length),
    height: 180,
    data: { values },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.8 },
        encoding: { x, y: { aggregate: 'mean', field: 'value', type: 'quantitative', title } },
      },
      {
        mark: { type: 'errorbar', extent: 'stdev', ticks: true },
        encoding: { x, y: { field: 'value', type: 'quantitative', title } },
      },
      {
        mark: { type: 'point', filled: true, color: 'black', size: 18 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title },
          tooltip: [{ field: 'seed' }, { field: 'value' }],
        },
      },
    ],
  } as vl.TopLevelSpec;
}

const PRIVACY: { metric: PrivacyMetric; title: string; caption: string; chance?: number }[] = [
  {
    metric: 'F',
    title: 'Forget score F',
    caption:
      "the NeurIPS 2023 unlearning challenge's forget score from per-example epsilons (higher is better; the Retrain row is the best these many models can show)",
  },
  {
    metric: 'score',
    title: 'Final score',
    caption: "the challenge's final score F x (RA_u / RA_r) x (TA_u / TA_r)",
  },
  {
    metric: 'uliraAccuracy',
    title: 'U-LiRA accuracy (%)',
    caption:
      'how often the per-example likelihood-ratio attack tells an unlearned model from a retrained one (the rule at 50%: indistinguishable)',
    chance: 50,
  },
  {
    metric: 'tprAt1',
    title: 'U-LiRA TPR at 1% FPR (%)',
    caption: "U-LiRA's true-positive rate at 1% false positives",
    chance: 1,
  },
  {
    metric: 'tprAt01',
    title: 'U-LiRA TPR at 0.1% FPR (%)',
    caption: "U-LiRA's true-positive rate at 0.1% false positives",
    chance: 0.1,
  },
];

function privacyChart(data: ReportData, metric: PrivacyMetric, title: string, chance?: number): vl.TopLevelSpec {
  const values = (data.privacy ?? []).filter((p) => p.metric === metric);
  const order = [...new Set([...data.methods, ...values.map((v) => v.method)])];
  const x = { field: 'method', type: 'nominal', sort: order, title: null, axis: slantedLabels } as const;
  const y = { field: 'value', type: 'quantitative', title } as const;
  return {
    ...base,
    title,
    width: Math.max(160, 48 * order.length),
    height: 180,
    layer: [
      {
        data: { values },
        layer: [
          { mark: { type: 'bar', opacity: 0.8 }, encoding: { x, y, tooltip: [{ field: 'value' }] } },
          { mark: { type: 'rule' }, encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' } } },
        ],
      },
      ...(chance === undefined
        ? []
        : [
            {
              data: { values: [{ chance }] },
              mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
              encoding: { y: { field: 'chance', type: 'quantitative' } },
            },
          ]),
    ],
  } as vl.TopLevelSpec;
}

function relearnChart(
  data: ReportData,
  points: { method: string; step: number; forgetAccuracy: number; seed: number }[],
): vl.TopLevelSpec {
  const x = { field: 'step', type: 'quantitative', title: 'relearning step', axis: { tickMinStep: 1 } } as const;
  // 20 colours, so that a table of up to 20 rows has no two lines alike.
  const color = {
    field: 'method',
    type: 'nominal',
    sort: data.methods,
    title: 'method',
    legend: wholeLabels,
    scale: { scheme: 'category20' },
  } as const;
  // The curves of a study lie within a few points of each other: the axis spans the data, not 0-100.
  const scale = { zero: false } as const;
  return {
    ...base,
    title: 'Forget accuracy under the relearning attack',
    width: 420,
    height: 220,
    data: { values: points },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x,
          color,
          y: { aggregate: 'mean', field: 'forgetAccuracy', type: 'quantitative', title: 'forget accuracy (%)', scale },
        },
      },
      {
        mark: { type: 'errorbar', extent: 'stdev' },
        encoding: {
          x,
          color,
          y: { field: 'forgetAccuracy', type: 'quantitative', title: 'forget accuracy (%)', scale },
        },
      },
    ],
  } as vl.TopLevelSpec;
}

function densityChart(data: ReportData): vl.TopLevelSpec {
  const layers = [...new Map(data.masks.map((m) => [m.layer, m.order])).entries()]
    .sort((a, b) => a[1] - b[1])
    .map((e) => e[0]);
  const x = {
    field: 'layer',
    type: 'nominal',
    sort: layers,
    title: 'layer',
    axis: { labelAngle: -60, labelFontSize: 8 },
  } as const;
  const color = { field: 'mask', type: 'nominal', title: 'mask', legend: wholeLabels } as const;
  return {
    ...base,
    title: 'Per-layer mask density (fraction of weights the mask keeps)',
    width: Math.min(900, Math.max(420, 12 * layers.length)),
    height: 200,
    data: { values: data.masks },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.85 },
        encoding: {
          x,
          color,
          xOffset: { field: 'mask' },
          y: { aggregate: 'mean', field: 'density', type: 'quantitative', title: 'density', scale: { domain: [0, 1] } },
        },
      },
      {
        mark: { type: 'errorbar', extent: 'stdev' },
        encoding: { x, xOffset: { field: 'mask' }, y: { field: 'density', type: 'quantitative', title: 'density' } },
      },
    ],
  } as vl.TopLevelSpec;
}

function completenessChart(data: ReportData): vl.TopLevelSpec {
  const values = data.completeness.flatMap((c) => [
    { mask: c.mask, seed: `seed ${c.seed}`, quantity: 'sum of IG', value: c.sumIg },
    { mask: c.mask, seed: `seed ${c.seed}`, quantity: 'L(model) - L(baseline)', value: c.lossDifference },
  ]);
  return {
    ...base,
    title: 'IG completeness: attributions sum vs the loss difference they should add up to',
    data: { values },
    // One panel per IG mask, each on its own scale (a contrastive target's loss difference is far
    // smaller than a plain one's); bars side by side, never stacked across masks.
    facet: { column: { field: 'mask', type: 'nominal', title: null, header: wholeLabels } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 160,
      height: 180,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'seed', type: 'nominal', title: null },
        xOffset: { field: 'quantity' },
        color: { field: 'quantity', type: 'nominal', title: null, legend: wholeLabels },
        y: { field: 'value', type: 'quantitative', title: 'loss units', stack: null },
        tooltip: [{ field: 'mask' }, { field: 'quantity' }, { field: 'value' }],
      },
    },
  } as vl.TopLevelSpec;
}

/** Each mask's share of each layer type in each quantity, the mean over the seeds. */
function layerTypeMeans(data: ReportData) {
  const groups = new Map<string, { mask: string; quantity: string; type: string; shares: number[] }>();
  for (const p of data.layerTypes) {
    const key = JSON.stringify([p.mask, p.quantity, p.type]);
    const group = groups.get(key) ?? { mask: p.mask, quantity: p.quantity, type: p.type, shares: [] };
    group.shares.push(p.share);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ shares, ...g }) => ({
    ...g,
    share: shares.reduce((a, b) => a + b, 0) / shares.length,
  }));
}

function layerTypeChart(data: ReportData): vl.TopLevelSpec {
  const quantities = ['parameters', 'saliency', 'mask'];
  // Means over the seeds, computed here: Vega-Lite stacks sums, not means.
  const values = layerTypeMeans(data);
  return {
    ...base,
    title: 'Layer-type shares: of the parameters, of the saliency, of the mask',
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      column: { field: 'quantity', type: 'nominal', sort: quantities, title: null },
      x: { field: 'mask', type: 'nominal', title: null, axis: slantedLabels },
      y: { field: 'share', type: 'quantitative', title: 'share (mean over seeds)', stack: 'normalize' },
      color: { field: 'type', type: 'nominal', sort: ['convolution', 'batchnorm', 'linear'], title: 'layer type' },
      tooltip: [{ field: 'mask' }, { field: 'type' }, { field: 'share', format: '.4f' }],
    },
    width: Math.max(120, 40 * new Set(data.layerTypes.map((p) => p.mask)).size),
    height: 180,
  } as vl.TopLevelSpec;
}

function jaccardChart(data: ReportData): vl.TopLevelSpec {
  const x = { field: 'mask', type: 'nominal', title: null, axis: slantedLabels } as const;
  const color = { field: 'against', type: 'nominal', title: 'other forget set', legend: wholeLabels } as const;
  return {
    ...base,
    title: 'Jaccard overlap of the masks of two forget sets (same original model)',
    width: Math.max(160, 48 * new Set(data.jaccard.map((p) => p.mask)).size),
    height: 180,
    data: { values: data.jaccard },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.8 },
        encoding: {
          x,
          xOffset: { field: 'against' },
          color,
          y: { aggregate: 'mean', field: 'jaccard', type: 'quantitative', title: 'Jaccard', scale: { domain: [0, 1] } },
        },
      },
      {
        mark: { type: 'point', filled: true, color: 'black', size: 18 },
        encoding: { x, xOffset: { field: 'against' }, y: { field: 'jaccard', type: 'quantitative' } },
      },
    ],
  } as vl.TopLevelSpec;
}

function trainingChart(data: ReportData, field: 'loss' | 'accuracy'): vl.TopLevelSpec {
  const values =
    field === 'loss'
      ? data.training.map((t) => ({ epoch: t.epoch, seed: `seed ${t.seed}`, series: 'train loss', value: t.loss }))
      : data.training.flatMap((t) => [
          { epoch: t.epoch, seed: `seed ${t.seed}`, series: 'train', value: t.trainAccuracy },
          ...(t.valAccuracy === null
            ? []
            : [{ epoch: t.epoch, seed: `seed ${t.seed}`, series: 'validation', value: t.valAccuracy }]),
        ]);
  return {
    ...base,
    title: field === 'loss' ? 'Original model: training loss' : 'Original model: accuracy (%)',
    width: 300,
    height: 180,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: field === 'loss' ? 'loss' : 'accuracy (%)' },
      color: { field: 'seed', type: 'nominal' },
      strokeDash: { field: 'series', type: 'nominal', title: null },
    },
  } as vl.TopLevelSpec;
}

/** The relearning curves as a table: per method, the forget accuracy after each step (mean over
 * the seeds) and how much the attack regained. */
export function relearnTable(data: ReportData, points: RelearnPoint[]): NonNullable<ReportSection['table']> {
  const steps = [...new Set(points.map((p) => p.step))].sort((a, b) => a - b);
  const meanAt = (method: string, step: number) => {
    const values = points.filter((p) => p.method === method && p.step === step).map((p) => p.forgetAccuracy);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
  };
  const methods = data.methods.filter((m) => points.some((p) => p.method === m));
  const rows = methods.map((method) => {
    const curve = steps.map((step) => meanAt(method, step));
    return [method, ...curve.map((v) => v.toFixed(2)), (curve[curve.length - 1] - curve[0]).toFixed(2)];
  });
  return {
    columns: ['Method', ...steps.map((s) => `step ${s}`), 'regained'],
    rows,
    caption: `Forget accuracy (%) after each relearning step, the mean over seeds ${data.seeds.join(', ')}; regained: the last step's minus step 0's.`,
  };
}

/** The specificity figures as a table: per mask (and other forget set), the Jaccard overlap over
 * the seeds and the batch-norm and linear shares of the parameters, the saliency and the mask. */
export function specificityTable(data: ReportData): NonNullable<ReportSection['table']> {
  const means = layerTypeMeans(data);
  const share = (mask: string, type: string, quantity: string) => {
    const found = means.find((m) => m.mask === mask && m.type === type && m.quantity === quantity);
    return found ? `${(100 * found.share).toFixed(2)}%` : '-';
  };
  const masks = [...new Set([...data.layerTypes.map((p) => p.mask), ...data.jaccard.map((p) => p.mask)])];
  const rows: string[][] = [];
  for (const mask of masks) {
    const shares = ['batchnorm', 'linear'].flatMap((type) =>
      ['parameters', 'saliency', 'mask'].map((quantity) => share(mask, type, quantity)),
    );
    const points = data.jaccard.filter((p) => p.mask === mask);
    const against = [...new Set(points.map((p) => p.against))];
    if (against.length === 0) rows.push([mask, '-', '-', '-', ...shares]);
    for (const other of against) {
      const values = points.filter((p) => p.against === other).map((p) => p.jaccard);
      rows.push([mask, other, formatMeanStd(values, 3), String(values.length), ...shares]);
    }
  }
  return {
    columns: [
      'Mask',
      'Other forget set',
      'Jaccard',
      'Seeds',
      'BN: parameters',
      'BN: saliency',
      'BN: mask',
      'Linear: parameters',
      'Linear: saliency',
      'Linear: mask',
    ],
    rows,
    caption:
      'Jaccard: mean ± std over the seeds of the overlap with the same mask on the other forget set. BN, Linear: the share of the batch-norm and linear layers in the parameters, the saliency and the mask (mean over the seeds); convolutions hold the rest.',
  };
}

/** The report's sections in order; a section without data keeps its place with a note saying why,
 * except privacy evaluation, which only runs with a privacy block have and is left out otherwise. */
export function reportSections(data: ReportData): ReportSection[] {
  const sections: ReportSection[] = [];
  sections.push({
    id: 'metrics',
    title: 'Metrics per method',
    charts: METRICS.map((m) => ({
      id: `metric-${m.key}`,
      title: m.title,
      caption: `${m.title}: ${m.caption}. Bars: mean over seeds ${data.seeds.join(', ')}; dots: each seed; error bars: ± one standard deviation.`,
      spec: metricChart(data, m.key, m.title),
    })),
  });
  sections.push(
    'points' in data.relearn
      ? {
          id: 'relearn',
          title: 'Relearning attack',
          table: relearnTable(data, data.relearn.points),
          charts: [
            {
              id: 'relearn-curves',
              title: 'Relearning attack',
              caption:
                'Forget accuracy after each fine-tuning step on a slice of the forget set with its true labels (mean ± std over seeds): the slower it comes back, the deeper the forgetting.',
              spec: relearnChart(data, data.relearn.points),
            },
          ],
        }
      : {
          id: 'relearn',
          title: 'Relearning attack',
          note: `No relearning curves: ${data.relearn.missing}.`,
          charts: [],
        },
  );
  sections.push(
    data.masks.length
      ? {
          id: 'masks',
          title: 'Mask density per layer (grad vs IG)',
          charts: [
            {
              id: 'mask-density',
              title: 'Mask density',
              caption:
                "Fraction of each layer's weights the saliency mask keeps trainable, per mask (mean ± std over seeds).",
              spec: densityChart(data),
            },
          ],
        }
      : {
          id: 'masks',
          title: 'Mask density per layer (grad vs IG)',
          note: 'No masks: no row of this experiment uses one.',
          charts: [],
        },
  );
  const specificityTitle = 'Forget specificity of the masks';
  const jaccardCharts = data.jaccard.length
    ? [
        {
          id: 'mask-jaccard',
          title: 'Jaccard overlap',
          caption:
            'Overlap |A and B| / |A or B| of a mask with the mask of the same options computed on another forget set from the same original model (the tuning validation set, or the second set given to insalun mask); bars: mean over seeds, dots: each seed. Two independent random masks of ratio r overlap r / (2 - r) on average (0.33 at r = 0.5): values near 1 mean the mask hardly depends on the forget set.',
          spec: jaccardChart(data),
        },
      ]
    : [];
  sections.push(
    data.layerTypes.length
      ? {
          id: 'specificity',
          title: specificityTitle,
          table: specificityTable(data),
          note: data.jaccard.length
            ? undefined
            : 'No Jaccard overlap: no mask has a second forget set (rows tuned on a validation forget set have one).',
          charts: [
            {
              id: 'layer-type-shares',
              title: 'Layer-type shares',
              caption:
                'Share of each layer type (convolution, batch norm, linear) in the parameters, in the saliency (sum of |grad| or |IG|) and in the mask, per mask (mean over seeds). A type whose saliency share far exceeds its parameter share dominates the ranking per parameter.',
              spec: layerTypeChart(data),
            },
            ...jaccardCharts,
          ],
        }
      : {
          id: 'specificity',
          title: specificityTitle,
          note: 'No layer-type shares: no row uses a mask, or its masks were written before the shares were recorded.',
          charts: [],
        },
  );
  sections.push(
    data.completeness.length
      ? {
          id: 'completeness',
          title: 'IG completeness',
          charts: [
            {
              id: 'ig-completeness',
              title: 'IG completeness',
              caption: `Integrated gradients sum to L(model) - L(baseline) in the limit of many steps; the gap measures the quadrature error. Relative gaps: ${data.completeness.map((c) => `${c.mask}, seed ${c.seed}: ${c.relativeGap.toFixed(3)}`).join('; ')}.`,
              spec: completenessChart(data),
            },
          ],
        }
      : {
          id: 'completeness',
          title: 'IG completeness',
          note: 'No IG masks: no row of this experiment uses an ig mask.',
          charts: [],
        },
  );
  sections.push(
    data.training.length
      ? {
          id: 'training',
          title: 'Training curves',
          charts: [
            {
              id: 'training-loss',
              title: 'Training loss',
              caption: "The original model's training loss per epoch, one line per seed.",
              spec: trainingChart(data, 'loss'),
            },
            {
              id: 'training-accuracy',
              title: 'Accuracy',
              caption:
                "The original model's training (solid) and validation (dashed, when held out) accuracy per epoch.",
              spec: trainingChart(data, 'accuracy'),
            },
          ],
        }
      : {
          id: 'training',
          title: 'Training curves',
          note: 'No training summaries (seed-N/original/summary.json) in the folder.',
          charts: [],
        },
  );
  // Privacy evaluation: only a compare run with a privacy block has it; without one, no section.
  if (data.privacy) {
    sections.push({
      id: 'privacy',
      title: 'Per-example privacy (populations of models)',
      charts: PRIVACY.map((m) => ({
        id: `privacy-${m.metric}`,
        title: m.title,
        caption: `${m.title}: ${m.caption}. Bars: each method's population against the retrained one; lines: 95% bootstrap intervals over the forget examples${m.chance === undefined ? '' : `; dashed: ${m.chance}, what an attack that cannot tell them apart gets`}.`,
        spec: privacyChart(data, m.metric, m.title, m.chance),
      })),
    });
  }
  return sections;
}

/** A Vega-Lite spec as a standalone SVG string. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
