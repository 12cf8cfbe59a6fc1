// What the build gives ink in place of @alcalzone/ansi-tokenize: the same functions with the same results,
// minus most of the garbage. ink turns every frame into one styled-character object per screen cell and
// back into a string (ink/build/output.js); the package allocates three Sets and several arrays per cell
// for that even where two neighbours share their style, about 3.5 MB per 80x24 frame, which is what grew
// `xnat dashboard` past 100 MB (docs/dashboard.md, "Memory"). Only the dashboard renders with ink.
import * as upstream from '../node_modules/@alcalzone/ansi-tokenize/build/index.js';

export * from '../node_modules/@alcalzone/ansi-tokenize/build/index.js';

/**
 * Lines remembered per generation: a frame writes about one line per screen row (24 at 80x24), most of
 * them the same as in the frame before; two generations bound the cache to 2 x this many lines (more
 * would keep lines alive long enough to be promoted to the old generation and grow it).
 */
const LINES_PER_GENERATION = 64;
/** Tokens of recent lines by line text, this generation and the one before (each frame tokenizes every line). */
let tokensNow = new Map();
let tokensBefore = new Map();
/** Styled characters of recent token lists (ink calls styledCharsFromTokens(tokenize(line))). */
const styledCache = new WeakMap();

/** tokenize(), remembered per text: the arrays returned are shared, and neither ink nor this module mutates them. */
export function tokenize(str, endChar) {
  if (endChar !== undefined) return upstream.tokenize(str, endChar);
  let tokens = tokensNow.get(str);
  if (tokens !== undefined) return tokens;
  tokens = tokensBefore.get(str) ?? upstream.tokenize(str);
  if (tokensNow.size >= LINES_PER_GENERATION) {
    tokensBefore = tokensNow;
    tokensNow = new Map();
  }
  tokensNow.set(str, tokens);
  return tokens;
}

/** styledCharsFromTokens(), with one styles array per run of equally styled characters, not per character. */
export function styledCharsFromTokens(tokens) {
  const cached = styledCache.get(tokens);
  if (cached !== undefined) return cached;
  let codes = [];
  const ret = [];
  for (const token of tokens) {
    if (token.type === 'ansi') codes = upstream.reduceAnsiCodesIncremental(codes, [token]);
    else if (token.type === 'char') ret.push({ ...token, styles: codes });
  }
  styledCache.set(tokens, ret);
  return ret;
}

/** Same codes in the same order (then diffAnsiCodes would return none). */
function sameCodes(a, b) {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].code !== b[i].code || a[i].endCode !== b[i].endCode) return false;
  }
  return true;
}

/** styledCharsToString(), skipping the diff between neighbours that share their style. */
export function styledCharsToString(chars) {
  let ret = '';
  for (let i = 0; i < chars.length; i++) {
    const styles = chars[i].styles;
    if (i === 0) {
      if (styles.length > 0) ret += upstream.ansiCodesToString(styles);
    } else {
      const prev = chars[i - 1].styles;
      if (!sameCodes(prev, styles)) ret += upstream.ansiCodesToString(upstream.diffAnsiCodes(prev, styles));
    }
    ret += chars[i].value;
    if (i === chars.length - 1 && styles.length > 0) {
      ret += upstream.ansiCodesToString(upstream.diffAnsiCodes(styles, []));
    }
  }
  return ret;
}
