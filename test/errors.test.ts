// Keeps src/errors.ts and docs/errors.md in step, and checks the catalogue's conventions.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { ERRORS, XnatError, fromWireError, toXnatError, isXnatError } from '../src/errors.ts';
import { DOC_PATH, currentTable, renderTable } from './tools/errors-doc.ts';

test('docs/errors.md lists every code exactly as the catalogue (run npm run docs:errors)', (t) => {
  const doc = readFileSync(DOC_PATH, 'utf8');
  t.is(currentTable(doc), renderTable());
});

test('codes follow XNAT_ERR_<AREA>_<THING> and messages are one sentence', (t) => {
  for (const [code, e] of Object.entries(ERRORS)) {
    t.regex(code, /^XNAT_ERR_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    t.regex(e.message, /^[A-Z][^.]*\.$/, code);
    t.true(e.hint.length > 0, code);
    t.true(Number.isInteger(e.exitCode) && e.exitCode > 0, code);
  }
});

test('XnatError carries code, hint, retryable and a wire form without stack', (t) => {
  const e = new XnatError('XNAT_ERR_WIRE_OVERSIZE', { detail: 'length 4294967295' });
  t.is(e.code, 'XNAT_ERR_WIRE_OVERSIZE');
  t.true(e.message.includes('4294967295'));
  t.deepEqual(Object.keys(e.toJSON()).sort(), ['code', 'message']);
  t.true(isXnatError(e, 'XNAT_ERR_WIRE_OVERSIZE'));
  t.is(fromWireError(e.toJSON()).code, 'XNAT_ERR_WIRE_OVERSIZE');
  t.is(fromWireError({ code: 'nope', message: 'x' }).code, 'XNAT_ERR_INTERNAL');
  t.is(toXnatError(new Error('boom')).code, 'XNAT_ERR_INTERNAL');
});
