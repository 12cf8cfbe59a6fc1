// A text table for ink: a titled panel with a column header and a scrolling window of rows, columns sized
// to their content within the width. It knows nothing of what the rows mean; cells arrive as text.
import { Box, Text } from 'ink';
import { fit } from './format.ts';

/**
 * One column: sized to its widest cell (title included) between `width` and `max`; `flex` columns may
 * shrink to `width` when the table is narrow and share the width left over when it is wide.
 */
export interface Column {
  readonly title: string;
  /** Minimum width in characters. */
  readonly width: number;
  /** Widest it grows to fit content (default: width for fixed columns, 60 for flex ones). */
  readonly max?: number;
  readonly align?: 'left' | 'right';
  /** Share of the spare width (default 0: fixed). */
  readonly flex?: number;
  /** Left out when the table is narrower than this many columns (secondary figures). */
  readonly hideBelow?: number;
}

/** One cell: its text and an optional ink colour. */
export interface Cell {
  readonly text: string;
  readonly color?: string;
}

export interface TableProps {
  readonly title: string;
  readonly columns: readonly Column[];
  readonly rows: readonly (readonly Cell[])[];
  /** Total width in characters, including the 2-character cursor gutter. */
  readonly width: number;
  /** Rows shown at most (the window scrolls). */
  readonly height: number;
  /** First row shown. */
  readonly offset: number;
  /** Index of the marked row, if any. */
  readonly cursor?: number;
  readonly focused: boolean;
  /** Shown when there are no rows. */
  readonly empty?: string;
}

/** The columns shown at `width` (hideBelow), with their indexes into the full list. */
export function visibleColumns(
  columns: readonly Column[],
  width: number,
): { column: Column; index: number }[] {
  return columns
    .map((column, index) => ({ column, index }))
    .filter((c) => width >= (c.column.hideBelow ?? 0));
}

/**
 * Widths within `width` (1-space gaps, 2-character gutter): each column as wide as its widest cell
 * between its minimum and maximum; flex columns shrink back towards their minimum when that is too wide,
 * and share what is left when it is narrower.
 */
export function columnWidths(
  columns: readonly Column[],
  width: number,
  rows: readonly (readonly Cell[])[] = [],
): number[] {
  const natural = columns.map((c, i) => {
    const max = c.max ?? ((c.flex ?? 0) > 0 ? 60 : c.width);
    const content = rows.reduce((n, r) => Math.max(n, r[i]?.text.length ?? 0), c.title.length);
    return Math.max(c.width, Math.min(max, content));
  });
  const avail = width - 2 - Math.max(0, columns.length - 1);
  const out = [...natural];
  let over = out.reduce((n, w) => n + w, 0) - avail;
  // Too wide: take from flex columns, widest first, down to their minimum.
  while (over > 0) {
    let best = -1;
    for (let i = 0; i < columns.length; i++) {
      if ((columns[i]!.flex ?? 0) > 0 && out[i]! > columns[i]!.width && (best < 0 || out[i]! > out[best]!))
        best = i;
    }
    if (best < 0) break;
    out[best]!--;
    over--;
  }
  // Room to spare: flex columns share it by weight; rounding goes to the last one.
  const spare = -over;
  const weights = columns.reduce((n, c) => n + (c.flex ?? 0), 0);
  if (spare > 0 && weights > 0) {
    let given = 0;
    columns.forEach((c, i) => {
      const add = Math.floor((spare * (c.flex ?? 0)) / weights);
      out[i]! += add;
      given += add;
    });
    const last = columns.findLastIndex((c) => (c.flex ?? 0) > 0);
    out[last]! += spare - given;
  }
  return out;
}

export function Table(props: TableProps) {
  const shown = visibleColumns(props.columns, props.width);
  const columns = shown.map((c) => c.column);
  const rows = props.rows.map((r) => shown.map((c) => r[c.index] ?? { text: '' }));
  const widths = columnWidths(columns, props.width, rows);
  const { height } = props;
  const offset = Math.max(0, Math.min(props.offset, Math.max(0, rows.length - height)));
  const visible = rows.slice(offset, offset + height);
  const more =
    rows.length > height
      ? ` ${offset + 1}-${offset + visible.length} of ${rows.length}`
      : ` (${rows.length})`;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold color={props.focused ? 'cyan' : undefined}>
        {props.focused ? '▸ ' : '  '}
        {props.title}
        <Text dimColor>{more}</Text>
      </Text>
      <Text wrap="truncate" dimColor>
        {'  '}
        {columns.map((c, i) => fit(c.title, widths[i]!, c.align)).join(' ')}
      </Text>
      {visible.length === 0 ? (
        <Text dimColor>{`  ${props.empty ?? '(none)'}`}</Text>
      ) : (
        visible.map((row, r) => {
          const marked = props.cursor === offset + r;
          return (
            <Text key={offset + r} wrap="truncate" inverse={marked && props.focused} bold={marked}>
              {marked ? '> ' : '  '}
              {row.map((cell, i) => (
                <Text key={i} color={cell.color}>
                  {fit(cell.text, widths[i]!, columns[i]?.align)}
                  {i < row.length - 1 ? ' ' : ''}
                </Text>
              ))}
            </Text>
          );
        })
      )}
      {/* Keep the panel's height constant so the screen does not jump as rows come and go. */}
      {Array.from({ length: Math.max(0, height - Math.max(1, visible.length)) }, (_, i) => (
        <Text key={`pad${i}`}> </Text>
      ))}
    </Box>
  );
}
