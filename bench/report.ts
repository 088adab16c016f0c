/**
 * What a suite hands back: headline figures, each with the target it is judged against, so the
 * runner can print one summary with pass/fail across suites.
 */
export interface Target {
  readonly op: '>=' | '<' | '<=';
  readonly value: number;
  readonly text: string;
}

export interface Figure {
  readonly suite: string;
  readonly name: string;
  readonly value: number;
  /** The value as printed, with its unit. */
  readonly display: string;
  readonly target?: Target;
}

export function meetsTarget(figure: Figure): boolean | undefined {
  const { target } = figure;
  if (!target) return undefined;
  switch (target.op) {
    case '>=':
      return figure.value >= target.value;
    case '<=':
      return figure.value <= target.value;
    case '<':
      return figure.value < target.value;
  }
}

/**
 * Prints a fixed-width table. The first `textColumns` columns are labels (left-aligned), the rest
 * numbers (right-aligned, so digits line up).
 */
export function printTable(title: string, header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): void {
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column < textColumns ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

export function printSummary(figures: readonly Figure[]): void {
  const rows = figures.map((figure) => {
    const verdict = meetsTarget(figure);
    return [`${figure.suite}: ${figure.name}`, figure.display, figure.target?.text ?? '-', verdict === undefined ? '-' : verdict ? 'PASS' : 'FAIL'];
  });
  printTable('Summary', ['figure', 'median', 'target', 'result'], rows);
}
