// A fixed-width text table for ink: a titled panel with a column header and a scrolling window of rows.
// It knows nothing of what the rows mean; cells arrive as text with an optional colour.
import { Box, Text } from 'ink';
import { fit } from './format.ts';

/** One column: a minimum width in characters; `flex` columns share the width left over. */
export interface Column {
  readonly title: string;
  readonly width: number;
  readonly align?: 'left' | 'right';
  /** Share of the spare width (default 0: fixed). */
  readonly flex?: number;
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

/** Widths after sharing the spare columns between flex columns (1-space gaps, 2-character gutter). */
export function columnWidths(columns: readonly Column[], width: number): number[] {
  const fixed = 2 + columns.reduce((n, c) => n + c.width, 0) + Math.max(0, columns.length - 1);
  const spare = Math.max(0, width - fixed);
  const weights = columns.reduce((n, c) => n + (c.flex ?? 0), 0);
  const out = columns.map((c) => c.width + (weights > 0 ? Math.floor((spare * (c.flex ?? 0)) / weights) : 0));
  // What rounding left over goes to the last flex column (often the one holding codes or addresses).
  const last = columns.findLastIndex((c) => (c.flex ?? 0) > 0);
  if (last >= 0) out[last]! += spare - out.reduce((n, w, i) => n + w - columns[i]!.width, 0);
  return out;
}

export function Table(props: TableProps) {
  const widths = columnWidths(props.columns, props.width);
  const { rows, height } = props;
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
        {props.columns.map((c, i) => fit(c.title, widths[i]!, c.align)).join(' ')}
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
                  {fit(cell.text, widths[i]!, props.columns[i]?.align)}
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
