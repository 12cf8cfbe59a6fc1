// What the build gives ink in place of widest-line and of its own measure-text.js: the same widths, kept
// for the lines of the last frames only. ink measures every text node again on every frame (widest-line
// has no cache: about 0.6 MiB/s of garbage at 250 ms), and its measure-text.js keeps every text it ever
// measured in a Map that is never cleared, which a dashboard showing changing figures grows without end.
import stringWidth from 'string-width';

/** Texts remembered per generation; two generations bound each cache (a frame has a few dozen texts). */
const TEXTS_PER_GENERATION = 256;

/** A map of recent keys: this generation and the one before; older ones are dropped with their generation. */
function recent(compute) {
  let now = new Map();
  let before = new Map();
  return (key) => {
    let value = now.get(key);
    if (value !== undefined) return value;
    value = before.get(key) ?? compute(key);
    if (now.size >= TEXTS_PER_GENERATION) {
      before = now;
      now = new Map();
    }
    now.set(key, value);
    return value;
  };
}

/** widest-line: the width of the widest line of `text`, in terminal columns. */
export const widestLine = recent((text) => {
  let width = 0;
  for (const line of text.split('\n')) width = Math.max(width, stringWidth(line));
  return width;
});

const dimensions = recent((text) => ({ width: widestLine(text), height: text.split('\n').length }));

/** ink's measure-text.js: width and height of `text`. */
export function measureText(text) {
  return text.length === 0 ? { width: 0, height: 0 } : dimensions(text);
}
