// Where the dashboard's panels go on a terminal of a given size: one column of five panels, or on wide
// terminals two columns (sessions, mappings and connections left; reconnects and logs right), each panel
// as tall as its content within what the terminal has. Pure arithmetic; it knows nothing of ink.

/** The panels in tab order. */
export const PANELS = ['sessions', 'mappings', 'connections', 'history', 'logs'] as const;
export type Panel = (typeof PANELS)[number];

/** Terminal width from which the panels go in two columns. */
export const WIDE_COLUMNS = 160;
/** Lines outside the panels: header, status line, footer. */
const CHROME_LINES = 3;
/** Lines of a panel that are not rows: its title and its column header. */
const PANEL_CHROME = 2;
/** How strongly each panel claims rows beyond its content's need (ties and leftovers). */
const WEIGHTS: Record<Panel, number> = { sessions: 2, mappings: 2, connections: 3, history: 1, logs: 2 };
/** Rows a panel wants at most whatever its content (beyond that it scrolls). */
const MAX_WANT: Record<Panel, number> = { sessions: 8, mappings: 10, connections: 40, history: 12, logs: 60 };

export interface Layout {
  readonly wide: boolean;
  /** Width of the left column (the whole width when not wide) and of the right one (0 when not wide). */
  readonly leftWidth: number;
  readonly rightWidth: number;
  readonly left: readonly Panel[];
  readonly right: readonly Panel[];
  /** Rows of table body per panel. */
  readonly heights: Record<Panel, number>;
}

/**
 * Gives each panel one row, then one more at a time to the panel furthest below its content's need
 * (relative to its weight); rows nobody needs go to the last panel of the column. One terminal line is
 * kept free so ink never scrolls.
 */
export function allocate(
  panels: readonly Panel[],
  want: Record<Panel, number>,
  body: number,
): Record<Panel, number> {
  const out = {} as Record<Panel, number>;
  for (const p of panels) out[p] = 1;
  let left = body - panels.length;
  while (left > 0) {
    let best: Panel | undefined;
    for (const p of panels) {
      const need = Math.min(MAX_WANT[p], Math.max(1, want[p]));
      if (out[p] >= need) continue;
      if (!best || out[p] / WEIGHTS[p] < out[best] / WEIGHTS[best]) best = p;
    }
    if (!best) break;
    out[best]++;
    left--;
  }
  if (left > 0) out[panels[panels.length - 1]!] += left;
  return out;
}

export function layout(columns: number, rows: number, want: Record<Panel, number>): Layout {
  const wide = columns >= WIDE_COLUMNS;
  if (!wide) {
    const body = Math.max(PANELS.length, rows - 1 - CHROME_LINES - PANELS.length * PANEL_CHROME);
    return {
      wide,
      leftWidth: columns,
      rightWidth: 0,
      left: PANELS,
      right: [],
      heights: allocate(PANELS, want, body),
    };
  }
  const left: Panel[] = ['sessions', 'mappings', 'connections'];
  const right: Panel[] = ['history', 'logs'];
  // The right column holds short lines (times, events, log messages): under a third, within 50..80.
  const rightWidth = Math.max(50, Math.min(80, Math.floor(columns * 0.3)));
  const bodyOf = (n: number) => Math.max(n, rows - 1 - CHROME_LINES - n * PANEL_CHROME);
  return {
    wide,
    leftWidth: columns - rightWidth - 1,
    rightWidth,
    left,
    right,
    heights: { ...allocate(left, want, bodyOf(left.length)), ...allocate(right, want, bodyOf(right.length)) },
  };
}
