/**
 * Seeded fuzzing of the parser, the rule table and every language-service function: random and
 * mutated unit files (from the samples and fixtures in the repo), random cursor offsets and
 * ranges. Asserts no exception, a per-call time cap, ranges inside the document, and that
 * formatting never changes what fleet sees. Bounded: a fixed number of iterations and a time budget.
 * Reproduce a failure with FUZZ_SEED=<seed printed in the message>.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Range, SelectionRange } from 'vscode-languageserver-types';
import { parseUnitFile, toOptions, validateUnitFile } from '../unitfile/src';
import type { ClusterContext } from '../protocol/src/lsp';
import { FleetLanguageSettings } from '../protocol/src/settings';
import * as service from '../server/src/service';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const BUDGET_MS = 18_000;
const CALL_CAP_MS = 1000; // generous: a hang, not a slow machine, should fail
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const root = path.resolve(__dirname, '..');

/** Unit files in the repo (samples, fixtures, test workspaces), plus inline edge cases. */
function corpus(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 5 || !fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.')) walk(p, depth + 1);
      else if (e.isFile() && /\.(service|socket|timer|path|mount|target)$/.test(e.name) && fs.statSync(p).size < 100_000) out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  for (const d of ['test', 'unitfile/test', 'samples', 'fleetd/test', 'scheduler/test']) walk(path.join(root, d), 0);
  out.push(
    '[Unit]\nDescription=Web %n\nAfter=db.service\n[Service]\nExecStart=-/bin/sh -c "echo %i" \\\n  && true\nRestart=always\n[X-Fleet]\nMachineOf=db@%i.service\nConflicts=web@*.service\nMachineMetadata="region=us" "disk=ssd"\nGlobal=false\n',
    '# c \\\n swallowed\n[X-Fleet]\nMachineID=4d389537\nReplaces=old*\n[Install]\nWantedBy=multi-user.target\n',
    '[Unit\nDescription=x\n[Service]garbage\nNoEquals\n=empty name\n  indented = value  \n',
    '\r\n[Unit]\r\nDescription=crlf\r\n\r\n[X-Fleet]\r\nGlobal=yes\r\n',
    '',
    '[',
    '[]',
    '=',
    '\\',
    '%',
    '[X-Fleet]\nMachineOf=',
    'x'.repeat(3000),
    '[Unit]\nDescription=😀\u{10348}€\n',
  );
  return out;
}

const ALPHABET = [
  '[',
  ']',
  '=',
  '\\',
  '\n',
  '\r',
  '\r\n',
  '#',
  ';',
  '%',
  '%i',
  '"',
  ' ',
  '\t',
  '@',
  '*',
  '.service',
  'X-Fleet',
  'MachineOf=',
  'Exec',
  '😀',
  '\u{D800}',
  'é',
  '\\\n',
  '[X-Fleet]\n',
  '[Service]\n',
];

function mutate(text: string, rnd: () => number, pick: <T>(a: readonly T[]) => T): string {
  let t = text;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (t.length + 1));
    switch (Math.floor(rnd() * 6)) {
      case 0:
        t = t.slice(0, at) + pick(ALPHABET) + t.slice(at);
        break;
      case 1:
        t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rnd() * 20));
        break;
      case 2: {
        const lines = t.split('\n');
        const j = Math.floor(rnd() * lines.length);
        lines.splice(j, 0, lines[j] ?? '');
        t = lines.join('\n');
        break;
      }
      case 3: {
        const lines = t.split('\n');
        const a = Math.floor(rnd() * lines.length),
          b = Math.floor(rnd() * lines.length);
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        t = lines.join('\n');
        break;
      }
      case 4:
        t = t.slice(0, at);
        break;
      default:
        t = t.slice(0, at) + t.slice(Math.floor(rnd() * t.length));
        break;
    }
  }
  return t;
}

function randomText(rnd: () => number, pick: <T>(a: readonly T[]) => T): string {
  let t = '';
  const n = Math.floor(rnd() * 60);
  for (let i = 0; i < n; i++) t += rnd() < 0.3 ? String.fromCharCode(32 + Math.floor(rnd() * 95)) : pick(ALPHABET);
  return t;
}

describe('fuzz: parser, rules and language service', () => {
  test(`${ITERATIONS} seeded inputs through every service function`, { timeout: 60_000 }, () => {
    const rnd = mulberry32(SEED);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const samples = corpus();
    assert.ok(samples.length >= 10, `corpus has ${samples.length} samples`);
    const cluster: ClusterContext = {
      machines: [
        { id: '4d389537d9d14bdabe8be54a9c29f68d', metadata: { region: 'us' } },
        { id: 'b'.repeat(32), metadata: {} },
      ],
      units: ['db.service', 'web@1.service'],
    };
    const names = ['web.service', 'web@1.service', 'db@.service', 'x.device', 'bad', undefined];
    const index = service.WorkspaceIndex.of(
      samples.slice(0, 20).map((s, i) => ({ name: `s${i}.service`, file: parseUnitFile(s), uri: `file:///ws/s${i}.service` })),
    );
    const started = performance.now();
    const totals = new Map<string, number>();
    let iterations = 0;
    for (; iterations < ITERATIONS && performance.now() - started < BUDGET_MS; iterations++) {
      const r = rnd();
      const text = r < 0.15 ? randomText(rnd, pick) : r < 0.25 ? pick(samples) : mutate(pick(samples), rnd, pick);
      const name = pick(names);
      const where = `iteration ${iterations} (FUZZ_SEED=${SEED}), name ${String(name)}, text ${JSON.stringify(text.slice(0, 400))}`;
      const document = TextDocument.create(`file:///ws/${name ?? 'untitled'}`, 'fleet-unit', 1, text);
      const lineCount = document.lineCount;
      const checkRange = (range: Range, what: string) => {
        for (const p of [range.start, range.end]) {
          assert.ok(p.line >= 0 && p.line < lineCount && p.character >= 0, `${what}: ${JSON.stringify(range)} outside the document; ${where}`);
          const lineText = document.getText({ start: { line: p.line, character: 0 }, end: { line: p.line + 1, character: 0 } });
          assert.ok(p.character <= lineText.length, `${what}: character beyond line end ${JSON.stringify(range)}; ${where}`);
        }
        assert.ok(
          range.start.line < range.end.line || (range.start.line === range.end.line && range.start.character <= range.end.character),
          `${what}: inverted ${JSON.stringify(range)}; ${where}`,
        );
      };
      const timed = <T>(what: string, f: () => T): T => {
        const t0 = performance.now();
        let result: T;
        try {
          result = f();
        } catch (e) {
          assert.fail(`${what} threw ${e instanceof Error ? e.stack : String(e)}; ${where}`);
        }
        const ms = performance.now() - t0;
        totals.set(what, (totals.get(what) ?? 0) + ms);
        assert.ok(ms < CALL_CAP_MS, `${what} took ${ms.toFixed(1)} ms; ${where}`);
        return result;
      };

      const file = timed('parseUnitFile', () => parseUnitFile(text));
      const problems = timed('validateUnitFile', () => validateUnitFile(file, { unitName: name, index }));
      for (const p of problems)
        assert.ok(p.start >= 0 && p.end <= text.length && p.start <= p.end, `problem ${p.code} [${p.start}, ${p.end}) outside; ${where}`);

      const doc: service.UnitDocument = { document, file, unitName: name };
      const ctx: service.ServiceContext = {
        settings: FleetLanguageSettings.defaults,
        catalog: service.defaultCatalog,
        index,
        cluster: rnd() < 0.5 ? cluster : undefined,
      };
      const all = timed('computeProblems', () => service.computeProblems(doc, ctx));
      for (const d of timed('diagnostics', () => service.diagnostics(doc, ctx, all))) checkRange(d.range, 'diagnostic');
      for (const s of timed('documentSymbols', () => service.documentSymbols(doc))) {
        checkRange(s.range, 'symbol');
        for (const c of s.children ?? []) checkRange(c.range, 'child symbol');
      }
      for (const f of timed('foldingRanges', () => service.foldingRanges(doc)))
        assert.ok(f.startLine < f.endLine && f.endLine < lineCount, `fold ${JSON.stringify(f)}; ${where}`);
      const edits = timed('formattingEdits', () => service.formattingEdits(doc));
      edits.forEach(e => checkRange(e.range, 'format edit'));
      const formatted = TextDocument.applyEdits(document, edits);
      assert.deepEqual(toOptions(parseUnitFile(formatted)), toOptions(file), `formatting changed the options; ${where}`);
      timed('validateForSubmit', () => service.validateForSubmit(doc, ctx));
      timed('references', () => service.references(doc, ctx)).forEach(l => assert.ok(l.uri.length > 0));
      // Semantic tokens: each on one line, inside it, in order, never overlapping.
      let prev = { line: -1, end: 0 };
      for (const t of service.decodeTokens(timed('semanticTokens', () => service.semanticTokens(doc, ctx)))) {
        checkRange({ start: { line: t.line, character: t.character }, end: { line: t.line, character: t.character + t.length } }, `token ${t.type}`);
        assert.ok(t.length > 0 && (t.line > prev.line || t.character >= prev.end), `token ${JSON.stringify(t)} overlaps or is out of order; ${where}`);
        prev = { line: t.line, end: t.character + t.length };
      }
      for (const hint of timed('inlayHints', () => service.inlayHints(doc, { start: 0, end: text.length }, ctx)))
        checkRange({ start: hint.position, end: hint.position }, 'inlay hint');
      timed('codeLenses', () => service.codeLenses(doc, ctx)).forEach(l => checkRange(l.range, 'code lens'));
      timed('documentLinks', () => service.documentLinks(doc, ctx)).forEach(l => checkRange(l.range, 'link'));

      for (let k = 0; k < 3; k++) {
        const offset = Math.floor(rnd() * (text.length + 1));
        const end = Math.min(text.length, offset + Math.floor(rnd() * 40));
        for (const item of timed('complete', () => service.complete(doc, offset, ctx)).items) {
          if (item.textEdit && 'range' in item.textEdit) checkRange(item.textEdit.range, `completion ${item.label}`);
        }
        const h = timed('hover', () => service.hover(doc, offset, ctx));
        if (h?.range) checkRange(h.range, 'hover');
        for (const a of timed('codeActions', () => service.codeActions(doc, offset, end, all))) {
          for (const list of Object.values(a.edit?.changes ?? {})) list.forEach(e => checkRange(e.range, `code action ${a.title}`));
        }
        timed('definition', () => service.definition(doc, offset, ctx));
        timed('documentHighlights', () => service.documentHighlights(doc, offset, ctx)).forEach(x => checkRange(x.range, 'highlight'));
        for (let sel: SelectionRange | undefined = timed('selectionRanges', () => service.selectionRanges(doc, [offset]))[0]; sel; sel = sel.parent)
          checkRange(sel.range, 'selection range');
        timed('signatureHelp', () => service.signatureHelp(doc, offset, ctx));
        for (const a of timed('refactorActions', () => service.refactorActions(doc, offset, end, ctx))) {
          for (const list of Object.values(a.edit?.changes ?? {})) list.forEach(e => checkRange(e.range, `refactor ${a.title}`));
        }
        const prepared = timed('prepareRename', () => service.prepareRename(doc, offset, ctx));
        if (prepared) {
          checkRange(prepared.range, 'prepareRename');
          // A valid new name of the same type is always accepted (a bad one is refused with a message).
          const type = prepared.placeholder.slice(prepared.placeholder.lastIndexOf('.'));
          const template = /@\./.test(prepared.placeholder);
          timed('rename', () => service.rename(doc, offset, `renamed${template ? '@' : ''}${type}`, ctx));
        }
        timed('rangeFormatting', () => service.formattingEdits(doc, { start: offset, end })).forEach(e => checkRange(e.range, 'range format edit'));
      }
    }
    if (process.env.FUZZ_PROFILE)
      console.log(
        [...totals]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
          .join(', '),
      );
    console.log(`fuzz: ${iterations} iterations in ${Math.round(performance.now() - started)} ms (FUZZ_SEED=${SEED})`);
    assert.ok(iterations >= Math.min(ITERATIONS, 300), `only ${iterations} iterations ran within the budget`);
  });
});
