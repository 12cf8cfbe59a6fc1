// What the build gives ink in place of @alcalzone/ansi-tokenize (scripts/ansi-tokenize-lean.mjs) returns
// what the package returns: the same tokens, styled characters and strings, for styled, nested, reset,
// wide and linked text, and for screen rows composed from pieces of several lines (as ink's output does);
// its text widths (scripts/ink-text-width-lean.mjs) are widest-line's.
import test from 'ava';
import * as upstream from '@alcalzone/ansi-tokenize';
import widestLine from 'widest-line';
import * as lean from '../../scripts/ansi-tokenize-lean.mjs';
import * as widths from '../../scripts/ink-text-width-lean.mjs';

const E = '\u001b[';
const LINES = [
  '',
  'plain text',
  `${E}1mbold${E}22m and ${E}2mdim${E}22m`,
  `${E}1m${E}2mbold dim${E}22m none`,
  `${E}36m▸ ${E}1mSessions${E}22m${E}39m${E}2m (1)${E}22m`,
  `${E}7m${E}1m> home  ${E}32mattached${E}39m 71.3ms${E}22m${E}27m`,
  `${E}31mred${E}0m reset ${E}41;37mwhite on red${E}49;39m`,
  `${E}38;2;10;20;30mtrue colour${E}39m ${E}48;5;200mpalette${E}49m`,
  '幅広い文字 and emoji 🎮🇩🇪 and é',
  `${E}35mudp ${E}39m ${E}4munder${E}24m ${E}3mitalic${E}23m`,
  '\u001b]8;;https://example.org\u0007link\u001b]8;;\u0007 after',
  `${E}90m  06:40:17 info  mapping ready  agent=home${E}39m`,
];

test('tokenize and styledCharsFromTokens agree with the package, also when asked again', (t) => {
  for (let round = 0; round < 2; round++) {
    for (const line of LINES) {
      t.deepEqual(lean.tokenize(line), upstream.tokenize(line), line);
      t.deepEqual(
        lean.styledCharsFromTokens(lean.tokenize(line)),
        upstream.styledCharsFromTokens(upstream.tokenize(line)),
        line,
      );
    }
  }
});

test('styledCharsToString agrees with the package on whole lines and on composed rows', (t) => {
  const styled = (line: string) => lean.styledCharsFromTokens(lean.tokenize(line));
  for (const line of LINES)
    t.is(lean.styledCharsToString(styled(line)), upstream.styledCharsToString(styled(line)));
  // A screen row as ink builds it: blank cells, then pieces of different lines side by side.
  const blank = () => ({ type: 'char' as const, value: ' ', fullWidth: false, styles: [] });
  for (let a = 0; a < LINES.length; a++) {
    for (let b = 0; b < LINES.length; b++) {
      const row = [
        blank(),
        ...styled(LINES[a]!).slice(0, 7),
        blank(),
        ...styled(LINES[b]!).slice(2),
        blank(),
      ];
      t.is(lean.styledCharsToString(row), upstream.styledCharsToString(row), `${a} ${b}`);
    }
  }
  t.is(lean.styledCharsToString([]), upstream.styledCharsToString([]));
});

test('the token cache stays bounded and keeps returning right answers past its size', (t) => {
  for (let i = 0; i < 1000; i++) {
    const line = `${E}3${i % 8}mline ${i}${E}39m`;
    t.deepEqual(lean.tokenize(line), upstream.tokenize(line));
  }
  t.deepEqual(lean.tokenize(LINES[4]!), upstream.tokenize(LINES[4]!));
});

test('the text widths the build gives ink agree with widest-line, also past the cache size', (t) => {
  const texts = [
    ...LINES,
    'two\nlines, the second wider',
    '🎮\n幅広い',
    ...LINES.map((l) => `${l}\n${l}${l}`),
  ];
  for (let i = 0; i < 600; i++) texts.push(`row ${i} ${'x'.repeat(i % 50)}`);
  for (const text of [...texts, ...texts]) {
    t.is(widths.widestLine(text), widestLine(text), text);
    // ink's measure-text.js: an empty text is 0 x 0.
    const height = text === '' ? 0 : text.split('\n').length;
    t.deepEqual(widths.measureText(text), { width: widestLine(text), height });
  }
  t.deepEqual(widths.measureText(''), { width: 0, height: 0 });
});
