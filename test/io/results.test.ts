import { describe, expect, it } from 'vitest';
import { formatMeanStd, renderTable, toCsv, toMarkdown } from '../../src/io/results.js';

describe('toCsv', () => {
  it('quotes per RFC 4180 and ends records with CRLF', () => {
    const csv = toCsv(
      ['method', 'note', 'UA'],
      [
        ['salun', 'plain', 2.85],
        ['a,b', 'say "hi"', 1],
        ['multi\nline', ' spaces kept ', -0.5],
      ],
    );
    expect(csv).toBe(
      'method,note,UA\r\n' +
        'salun,plain,2.85\r\n' +
        '"a,b","say ""hi""",1\r\n' +
        '"multi\nline", spaces kept ,-0.5\r\n',
    );
  });

  it('rejects rows of the wrong width', () => {
    expect(() => toCsv(['a', 'b'], [[1]])).toThrow(/row 0 has 1 cells for 2 columns/);
  });
});

describe('toMarkdown', () => {
  it('writes a header, a rule and escaped rows', () => {
    expect(
      toMarkdown(
        ['a', 'b'],
        [
          ['x|y', 1],
          ['two\nlines', 2],
        ],
      ),
    ).toBe('| a | b |\n| --- | --- |\n| x\\|y | 1 |\n| two lines | 2 |\n');
  });
});

describe('renderTable', () => {
  it('boxes every cell without colour codes', () => {
    const text = renderTable(
      ['method', 'MIA'],
      [
        ['retrain', '12.88'],
        ['salun', 14.39],
      ],
    );
    for (const cell of ['method', 'MIA', 'retrain', '12.88', 'salun', '14.39']) expect(text).toContain(cell);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is that no ANSI escape (ESC [) reaches the file
    expect(text).not.toMatch(/\u001b\[/);
    expect(text.split('\n')).toHaveLength(7); // top, head, rule, row, rule, row, bottom
  });
});

describe('formatMeanStd', () => {
  it('uses the sample standard deviation', () => {
    expect(formatMeanStd([1, 2, 3])).toBe('2.00 ± 1.00');
    expect(formatMeanStd([10, 12], 3)).toBe('11.000 ± 1.414');
  });

  it('prints a single value without ±', () => {
    expect(formatMeanStd([5.244])).toBe('5.24');
  });

  it('refuses an empty list', () => {
    expect(() => formatMeanStd([])).toThrow(RangeError);
  });
});
