/**
 * Interaction scripts (test/testdata/*.txt): each file is one scenario, a list of commands
 * each followed by `----` and the output it must produce (every Ready handled and message
 * delivered). To update the expected output after a deliberate change, run with
 * `RAFT_REWRITE=1` and read the diff: only keep changes you understand.
 */
import {readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, it} from 'vitest';
import {InteractionEnv, parseCommand} from './interaction-env.js';

type Segment = {kind: 'raw'; line: string} | {kind: 'cmd'; line: string; expected: string};

function parseScript(text: string): Segment[] {
  const lines = text.split('\n');
  const segs: Segment[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      segs.push({kind: 'raw', line});
      i++;
      continue;
    }
    if (lines[i + 1] !== '----') {
      throw new Error(`line ${i + 2}: expected ---- after command "${line}"`);
    }
    i += 2;
    const out: string[] = [];
    while (i < lines.length && (lines[i] ?? '') !== '') {
      out.push(lines[i] ?? '');
      i++;
    }
    segs.push({kind: 'cmd', line, expected: out.join('\n')});
  }
  return segs;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const rewrite = process.env['RAFT_REWRITE'] === '1';

describe('interaction scripts', () => {
  for (const file of readdirSync(dir)
    .filter(f => f.endsWith('.txt'))
    .sort()) {
    it(file.replace(/\.txt$/, ''), () => {
      const path = join(dir, file);
      const segs = parseScript(readFileSync(path, 'utf8'));
      const env = new InteractionEnv();
      const rewritten: string[] = [];
      for (const seg of segs) {
        if (seg.kind === 'raw') {
          rewritten.push(seg.line);
          continue;
        }
        const got = env.handle(parseCommand(seg.line));
        rewritten.push(seg.line, '----', got);
        if (!rewrite) {
          expect(got, `${file}: ${seg.line}`).toBe(seg.expected);
        }
      }
      if (rewrite) {
        let text = rewritten.join('\n');
        if (!text.endsWith('\n')) text += '\n';
        writeFileSync(path, text);
      }
    });
  }
});
