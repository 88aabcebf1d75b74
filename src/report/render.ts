// `insalun report`: an output folder as one self-contained HTML file (the charts inline as SVG, no
// script, no network: a Content-Security-Policy forbids any fetch) or as Markdown with the charts
// as SVG files beside it. Every file is written atomically.
import { basename, dirname, extname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { toMarkdown } from '../io/results.js';
import { type Chart, renderSvg, reportSections } from './charts.js';
import { type ReportData, readReportFolder } from './read.js';

export type ReportFormat = 'html' | 'md';

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}figure{margin:1.5em 0;display:inline-block;vertical-align:top}
figure svg{max-width:100%;height:auto}figcaption{font-size:.85em;color:#555;max-width:520px}.note{color:#666;font-style:italic}`;

/** A table's head and body (the caller writes the <table> element). */
function htmlTable(columns: string[], rows: (string | number)[][]): string {
  const head = `<tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`).join('\n');
  return `<thead>${head}</thead><tbody>\n${body}\n</tbody>`;
}

async function renderCharts(data: ReportData) {
  const sections = reportSections(data);
  const svgs = new Map<Chart, string>();
  for (const s of sections) for (const c of s.charts) svgs.set(c, await renderSvg(c.spec));
  return { sections, svgs };
}

export async function renderHtml(data: ReportData): Promise<string> {
  const { sections, svgs } = await renderCharts(data);
  const parts = sections.map((s) => {
    const figures = s.charts.map(
      (c) =>
        `<figure id="${c.id}" data-chart="${c.id}">${svgs.get(c)}<figcaption>${escapeHtml(c.caption)}</figcaption></figure>`,
    );
    const note = s.note ? `<p class="note" data-note="${s.id}">${escapeHtml(s.note)}</p>` : '';
    const table = s.table
      ? `<table data-table="${s.id}">${htmlTable(s.table.columns, s.table.rows)}</table><p class="note">${escapeHtml(s.table.caption)}</p>`
      : '';
    return `<section id="${s.id}"><h2>${escapeHtml(s.title)}</h2>${note}${table}\n${figures.join('\n')}</section>`;
  });
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(data.title)}</h1>
<p>Report of the ${escapeHtml(data.layout)} output folder <code>${escapeHtml(basename(data.dir))}</code>: mean ± std over seeds ${data.seeds.join(', ')}.</p>
<section id="table"><h2>Table</h2><table>${htmlTable(data.columns, data.rows)}</table></section>
${parts.join('\n')}
</body></html>
`;
}

/** Markdown, and the SVG files it links to (names relative to the Markdown file's folder). */
export async function renderMarkdown(
  data: ReportData,
  chartsDir: string,
): Promise<{ text: string; files: Map<string, string> }> {
  const { sections, svgs } = await renderCharts(data);
  const files = new Map<string, string>();
  const parts = [
    `# ${data.title}`,
    '',
    `Mean ± std over seeds ${data.seeds.join(', ')}.`,
    '',
    '## Table',
    '',
    toMarkdown(data.columns, data.rows),
  ];
  for (const s of sections) {
    parts.push(`## ${s.title}`, '');
    if (s.note) parts.push(s.note, '');
    if (s.table) parts.push(toMarkdown(s.table.columns, s.table.rows).trimEnd(), '', s.table.caption, '');
    for (const c of s.charts) {
      const file = `${chartsDir}/${c.id}.svg`;
      files.set(file, svgs.get(c)!);
      parts.push(`![${c.title}](${file})`, '', c.caption, '');
    }
  }
  return { text: `${parts.join('\n').trimEnd()}\n`, files };
}

/** Reads `dir` and writes the report; returns the paths written. Default output: DIR/report.html
 * or DIR/report.md (charts in report-charts/ beside it). */
export async function writeReport(dir: string, format: ReportFormat, out?: string): Promise<string[]> {
  const data = await readReportFolder(dir);
  const target = out ?? join(dir, `report.${format}`);
  if (format === 'html') {
    await writeFileAtomic(target, await renderHtml(data));
    return [target];
  }
  const chartsDir = `${basename(target, extname(target))}-charts`;
  const { text, files } = await renderMarkdown(data, chartsDir);
  const written: string[] = [];
  for (const [file, svg] of files) {
    const path = join(dirname(target), file);
    await writeFileAtomic(path, svg);
    written.push(path);
  }
  await writeFileAtomic(target, text); // last: it links to the charts
  return [target, ...written];
}
