/**
 * The TextMate grammar (syntaxes/fleet-unit.tmLanguage.json) without vscode-textmate: every
 * regex compiles as a JS RegExp (we keep to the syntax JS and Oniguruma share), every include
 * resolves, and a tiny tokenizer for the grammar's shape (anchored top-level rules; begin/end
 * value rules whose `end` is "end of a line that does not end in a backslash") gives the
 * expected scopes on sample lines. The language configuration is checked too.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

const root = path.resolve(__dirname, '..');
const grammar = JSON.parse(fs.readFileSync(path.join(root, 'syntaxes/fleet-unit.tmLanguage.json'), 'utf8')) as Grammar;
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: { grammars: { scopeName: string; path: string; language: string }[]; languages: { id: string; extensions: string[]; configuration: string }[] };
};

interface Rule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  contentName?: string;
  captures?: Record<string, { name: string }>;
  beginCaptures?: Record<string, { name: string }>;
  patterns?: Rule[];
  include?: string;
}
interface Grammar {
  scopeName: string;
  patterns: Rule[];
  repository: Record<string, Rule>;
}

const resolve = (r: Rule): Rule => {
  if (!r.include) return r;
  const key = r.include.replace(/^#/, '');
  const found = grammar.repository[key];
  if (!found) throw new Error(`unresolved include ${r.include}`);
  return found;
};

function allRules(): [string, Rule][] {
  const out: [string, Rule][] = [];
  const visit = (where: string, r: Rule) => {
    out.push([where, r]);
    r.patterns?.forEach((p, i) => visit(`${where}.patterns[${i}]`, p));
  };
  grammar.patterns.forEach((p, i) => visit(`patterns[${i}]`, p));
  for (const [k, r] of Object.entries(grammar.repository)) visit(`repository.${k}`, r);
  return out;
}

type Token = [text: string, scope: string];

/** Tokenizes lines with the grammar; returns only the named tokens (text, innermost scope). */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let inside: Rule | undefined; // an open begin/end rule (a value continued with a backslash)
  for (const line of text.split('\n')) {
    let pos = 0;
    if (!inside) {
      for (const ref of grammar.patterns) {
        const r = resolve(ref);
        const re = new RegExp(r.match ?? r.begin!, 'y');
        const m = re.exec(line);
        if (!m) continue;
        const caps = r.captures ?? r.beginCaptures ?? {};
        if (r.name) tokens.push([m[0], r.name]);
        for (const [i, c] of Object.entries(caps)) if (m[Number(i)]) tokens.push([m[Number(i)]!, c.name]);
        pos = m[0].length;
        if (r.begin) inside = r;
        break;
      }
    }
    if (inside) {
      pos = value(line, pos, inside, tokens);
      if (!/\\$/.test(line)) inside = undefined;
    }
  }
  return tokens;
}

/** Applies a begin/end rule's patterns from `pos` to the end of the line (earliest match wins, then rule order). */
function value(line: string, pos: number, rule: Rule, tokens: Token[]): number {
  const patterns = (rule.patterns ?? []).map(resolve);
  while (pos < line.length) {
    let best: { at: number; m: RegExpExecArray; r: Rule } | undefined;
    for (const r of patterns) {
      const re = new RegExp(r.match ?? r.begin!, 'g');
      re.lastIndex = pos;
      const m = re.exec(line);
      if (m && m[0].length > 0 && (!best || m.index < best.at)) best = { at: m.index, m, r };
    }
    if (!best) break;
    let end = best.at + best.m[0].length;
    if (best.r.begin) {
      const endRe = new RegExp(best.r.end!, 'g');
      endRe.lastIndex = end;
      const e = endRe.exec(line);
      end = e ? e.index + e[0].length : line.length;
    }
    tokens.push([line.slice(best.at, end), best.r.name!]);
    pos = end;
  }
  return line.length;
}

const has = (tokens: Token[], text: string, scope: string) =>
  assert.ok(
    tokens.some(([t, s]) => t === text && s === scope),
    `expected ${JSON.stringify(text)} as ${scope} in ${JSON.stringify(tokens)}`,
  );
const hasNot = (tokens: Token[], text: string, scope: string) =>
  assert.ok(!tokens.some(([t, s]) => t === text && s === scope), `did not expect ${JSON.stringify(text)} as ${scope}`);

describe('TextMate grammar', () => {
  test('is the grammar package.json contributes for fleet-unit', () => {
    const g = manifest.contributes.grammars.find(x => x.language === 'fleet-unit');
    assert.ok(g);
    assert.equal(g.scopeName, 'source.fleet-unit');
    assert.equal(grammar.scopeName, 'source.fleet-unit');
    assert.equal(path.normalize(g.path), path.normalize('./syntaxes/fleet-unit.tmLanguage.json'));
  });

  test('every regex compiles as a JS RegExp and every include resolves', () => {
    const rules = allRules();
    assert.ok(rules.length > 10);
    for (const [where, r] of rules) {
      if (r.include) resolve(r);
      for (const key of ['match', 'begin', 'end'] as const) {
        const src = r[key];
        if (src === undefined) continue;
        assert.doesNotThrow(() => new RegExp(src), `${where}.${key}: ${src}`);
        assert.ok(!/\\[hHAzZG]|\(\?[<]?[a-zA-Z]+>|\(\?>|\+\+|\*\+/.test(src.replace(/\\\\/g, '')), `${where}.${key} uses Oniguruma-only syntax: ${src}`);
      }
      if (r.begin) assert.ok(r.end, `${where}: begin without end`);
      assert.ok(!(r.match && r.begin), `${where}: both match and begin`);
    }
  });

  test('sections, with [X-Fleet] scoped apart', () => {
    const t = tokenize('[Unit]\n[X-Fleet]\n  [Service]');
    has(t, 'Unit', 'entity.name.section.fleet-unit');
    has(t, 'X-Fleet', 'entity.name.section.x-fleet.fleet-unit');
    hasNot(t, 'X-Fleet', 'entity.name.section.fleet-unit');
    has(t, 'Service', 'entity.name.section.fleet-unit');
    has(t, '[', 'punctuation.definition.section.begin.fleet-unit');
    has(t, ']', 'punctuation.definition.section.end.fleet-unit');
  });

  test('comments start with # or ; at the start of a line only', () => {
    const t = tokenize('# a comment\n  ; another\nDescription=a # not a comment');
    has(t, '# a comment', 'comment.line.number-sign.fleet-unit');
    has(t, '  ; another', 'comment.line.number-sign.fleet-unit');
    assert.equal(t.filter(([, s]) => s.startsWith('comment')).length, 2);
  });

  test('keys, =, booleans, numbers and time spans', () => {
    const t = tokenize('Description = Web server\nRemainAfterExit=yes\nRestartSec=5s\nTimeoutStopSec=1min\nRestart=on-failure\nCPUQuota=50%');
    has(t, 'Description', 'variable.other.key.fleet-unit');
    has(t, '=', 'keyword.operator.assignment.fleet-unit');
    has(t, 'yes', 'constant.language.boolean.fleet-unit');
    has(t, '5s', 'constant.numeric.fleet-unit');
    has(t, '1min', 'constant.numeric.fleet-unit');
    has(t, '50%', 'constant.numeric.fleet-unit');
    hasNot(t, 'on', 'constant.language.boolean.fleet-unit');
  });

  test('Exec prefixes, specifiers, quoted strings and continuations', () => {
    const t = tokenize('ExecStart=-@/usr/bin/docker run --name %p-%i "a b %n" \\\n  --rm busybox\nExecStop=/bin/true');
    has(t, 'ExecStart', 'variable.other.key.fleet-unit');
    has(t, '-@', 'keyword.operator.exec-prefix.fleet-unit');
    has(t, '%p', 'constant.other.placeholder.specifier.fleet-unit');
    has(t, '%i', 'constant.other.placeholder.specifier.fleet-unit');
    has(t, '"a b %n"', 'string.quoted.double.fleet-unit');
    has(t, '\\', 'constant.character.escape.line-continuation.fleet-unit');
    has(t, 'ExecStop', 'variable.other.key.fleet-unit');
    // Command lines are not scanned for booleans or numbers ("while true; do sleep 5").
    const cmd = tokenize("ExecStart=/bin/sh -c 'while true; do sleep 5; done'");
    hasNot(cmd, 'true', 'constant.language.boolean.fleet-unit');
    hasNot(cmd, '5', 'constant.numeric.fleet-unit');
    // The continued line is value, not a key.
    hasNot(t, '  --rm busybox', 'variable.other.key.fleet-unit');
  });

  test('[X-Fleet] keys are scoped apart; Global booleans', () => {
    const t = tokenize('[X-Fleet]\nMachineOf=db@%i.service\nGlobal=true\nMachineMetadata="region=us" "disk=ssd"');
    has(t, 'MachineOf', 'variable.other.key.x-fleet.fleet-unit');
    has(t, 'Global', 'variable.other.key.x-fleet.fleet-unit');
    has(t, 'true', 'constant.language.boolean.fleet-unit');
    has(t, '%i', 'constant.other.placeholder.specifier.fleet-unit');
    has(t, '"region=us"', 'string.quoted.double.fleet-unit');
  });
});

describe('language configuration', () => {
  const lc = JSON.parse(fs.readFileSync(path.join(root, 'language-configuration.json'), 'utf8')) as {
    comments: { lineComment: string };
    brackets: string[][];
    autoClosingPairs: { open: string; close: string }[];
    folding: { markers: { start: string; end: string } };
    wordPattern: string;
  };

  test('is the configuration package.json points at', () => {
    const lang = manifest.contributes.languages.find(l => l.id === 'fleet-unit');
    assert.equal(lang?.configuration, './language-configuration.json');
  });

  test('line comments, brackets, auto-closing pairs, section folding markers', () => {
    assert.equal(lc.comments.lineComment, '#');
    assert.deepEqual(lc.brackets, [['[', ']']]);
    assert.ok(lc.autoClosingPairs.some(p => p.open === '[' && p.close === ']'));
    const start = new RegExp(lc.folding.markers.start);
    const end = new RegExp(lc.folding.markers.end);
    assert.ok(start.test('[Service]') && start.test('[X-Fleet]'));
    assert.ok(!start.test('Description=[x]'));
    assert.ok(end.test(''));
    assert.doesNotThrow(() => new RegExp(lc.wordPattern));
    assert.equal(new RegExp(lc.wordPattern).exec('%i')?.[0], '%i');
  });
});
