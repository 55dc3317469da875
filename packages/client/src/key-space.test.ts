import {describe, expect, it} from 'vitest';

import {prefixEnd} from './bytes.js';
import {KeySpace} from './key-space.js';

const show = (r: {key: Buffer; rangeEnd: Buffer}): [string, string] => [
  r.key.toString('latin1'),
  r.rangeEnd.toString('latin1'),
];

describe('prefixEnd', () => {
  it.each([
    ['aa', 'ab'],
    ['a\xff', 'b'],
    ['a\xff\xff', 'b'],
    ['\xff', '\0'],
    ['', '\0'],
    ['app/', 'app0'],
  ])('of %j is %j', (prefix, end) => {
    expect(prefixEnd(Buffer.from(prefix, 'latin1')).toString('latin1')).toBe(end);
  });

  it('does not modify its input', () => {
    const input = Buffer.from('ab');
    prefixEnd(input);
    expect(input.toString()).toBe('ab');
  });
});

describe('KeySpace', () => {
  const root = KeySpace.root;
  const app = root.child('app/');

  it('maps selectors at the root with etcd conventions', () => {
    expect(show(root.range('k'))).toEqual(['k', '']);
    expect(show(root.range({prefix: 'a'}))).toEqual(['a', 'b']);
    expect(show(root.range({prefix: ''}))).toEqual(['\0', '\0']);
    expect(show(root.range({fromKey: 'm'}))).toEqual(['m', '\0']);
    expect(show(root.range({key: 'a', end: 'c'}))).toEqual(['a', 'c']);
    expect(show(root.range({key: 'a', end: '\0'}))).toEqual(['a', '\0']);
  });

  it('keeps every selector inside a namespace', () => {
    expect(show(app.range('k'))).toEqual(['app/k', '']);
    expect(show(app.range({prefix: ''}))).toEqual(['app/', 'app0']);
    expect(show(app.range({prefix: 'x'}))).toEqual(['app/x', 'app/y']);
    expect(show(app.range({fromKey: 'm'}))).toEqual(['app/m', 'app0']);
    expect(show(app.range({fromKey: ''}))).toEqual(['app/', 'app0']);
    expect(show(app.range({key: 'a', end: 'c'}))).toEqual(['app/a', 'app/c']);
    expect(show(app.range({key: 'a', end: '\0'}))).toEqual(['app/a', 'app0']);
  });

  it('ends a namespace of 0xff bytes at the end of the keyspace', () => {
    const top = root.child(Buffer.from([0xff]));
    expect(show(top.range({prefix: ''}))).toEqual(['\xff', '\0']);
  });

  it('nests, strips and recognises its keys', () => {
    const deeper = app.child('d/');
    expect(deeper.key('k').toString()).toBe('app/d/k');
    expect(deeper.strip(Buffer.from('app/d/k')).toString()).toBe('k');
    expect(app.contains(Buffer.from('app/x'))).toBe(true);
    expect(app.contains(Buffer.from('apx'))).toBe(false);
    expect(root.child('')).toBe(root);
  });
});
