// Result tables in three forms: a terminal table, Markdown for reports, CSV for spreadsheets.

import Table from 'cli-table3';

export type Cell = string | number;

function checkWidths(columns: string[], rows: Cell[][]): void {
  rows.forEach((row, i) => {
    if (row.length !== columns.length) {
      throw new RangeError(`row ${i} has ${row.length} cells for ${columns.length} columns`);
    }
  });
}

/** A boxed table for the terminal; cells print as String(cell), so round numbers first. */
export function renderTable(columns: string[], rows: Cell[][]): string {
  checkWidths(columns, rows);
  // No colours: the output also goes to logs and files, where escape codes are noise.
  const table = new Table({ head: columns, style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
}

function markdownCell(cell: Cell): string {
  // A pipe would end the cell and a newline the row.
  return String(cell).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A GitHub-flavoured Markdown table, ending with a newline. */
export function toMarkdown(columns: string[], rows: Cell[][]): string {
  checkWidths(columns, rows);
  const line = (cells: Cell[]) => `| ${cells.map(markdownCell).join(' | ')} |\n`;
  return line(columns) + line(columns.map(() => '---')) + rows.map(line).join('');
}

function csvField(cell: Cell): string {
  const text = String(cell);
  // RFC 4180: quote fields holding a quote, comma or line break, doubling the quotes inside.
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV per RFC 4180: a header record, CRLF line ends, a final CRLF. */
export function toCsv(columns: string[], rows: Cell[][]): string {
  checkWidths(columns, rows);
  return [columns, ...rows].map((record) => `${record.map(csvField).join(',')}\r\n`).join('');
}

/** "mean ± std" with the sample standard deviation (n - 1); a single value prints alone. */
export function formatMeanStd(values: number[], digits = 2): string {
  if (values.length === 0) throw new RangeError('formatMeanStd needs at least one value');
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  if (values.length === 1) return mean.toFixed(digits);
  const variance = values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (values.length - 1);
  return `${mean.toFixed(digits)} ± ${Math.sqrt(variance).toFixed(digits)}`;
}
