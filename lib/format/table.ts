/**
 * Aligned text tables and verdict colours for terminal output. Colour only when the stream is a
 * terminal and NO_COLOR is unset (https://no-color.org), so pipes and files get plain text.
 * @module
 */

/** Whether to colour what goes to `stream`. */
export function useColour(stream: { isTTY?: boolean }): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

const SGR = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;

/** `text` in a colour when `on`, as is otherwise. */
export function paint(on: boolean, colour: keyof typeof SGR, text: string): string {
  return on ? `\x1b[${SGR[colour]}m${text}\x1b[0m` : text;
}

/** Length as a terminal shows it (SGR sequences take no column). */
function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/**
 * Rows as columns padded to the widest cell, two spaces apart; the last column is not padded.
 * `header` is printed first when given.
 */
export function table(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const all = header ? [header, ...rows] : [...rows];
  if (all.length === 0) return '';
  const widths: number[] = [];
  for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(c))));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c)))).join('  ').trimEnd())
    .join('\n');
}
