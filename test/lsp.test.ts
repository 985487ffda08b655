/**
 * The BUILT language server (dist/server.js, built here with esbuild when stale) over stdio,
 * driven by a real JSON-RPC client: the journey an editor makes, request by request.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  CodeActionRequest,
  CompletionRequest,
  CompletionResolveRequest,
  InsertTextFormat,
  DefinitionRequest,
  DidChangeConfigurationNotification,
  DidChangeTextDocumentNotification,
  DidChangeWatchedFilesNotification,
  DidCloseTextDocumentNotification,
  DocumentFormattingRequest,
  DocumentSymbolRequest,
  FileChangeType,
  FoldingRangeRequest,
  HoverRequest,
  ReferencesRequest,
  type CompletionList,
  type DocumentSymbol,
  type MarkupContent,
  CodeLensRequest,
  DocumentHighlightRequest,
  DocumentLinkRequest,
  InlayHintRequest,
  PrepareRenameRequest,
  RenameRequest,
  SelectionRangeRequest,
  SemanticTokensDeltaRequest,
  SemanticTokensRequest,
  SignatureHelpRequest,
  WorkspaceSymbolRequest,
  type CodeAction,
  type SemanticTokensDelta,
  type SymbolInformation,
} from 'vscode-languageserver-protocol/node';
import { ClusterContextNotification, PingRequest, ValidateForSubmitRequest } from '../protocol/src/lsp';
import { ensureBuilt, LspHarness } from '../server/test/lspHarness';

const WEB = [
  '[Unit]', //                                          0
  'Description = Web', //                               1
  'After=db.service', //                                2
  '', //                                                3
  '[Service]', //                                       4
  'ExecStart=/usr/bin/web', //                          5
  '', //                                                6
  '[X-Fleet]', //                                       7
  'MachineMetaData=region=us', //                       8
  '', //                                                9
].join('\n');

describe('language server over stdio (dist/server.js)', () => {
  let dir = '';
  let h: LspHarness;
  let webUri = '';
  let dbUri = '';

  before(
    async () => {
      ensureBuilt();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-lsp-'));
      fs.writeFileSync(path.join(dir, 'db.service'), '[Unit]\nDescription=db\n[X-Fleet]\nConflicts=web*\n');
      fs.writeFileSync(path.join(dir, 'web.service'), WEB);
      webUri = pathToFileURL(path.join(dir, 'web.service')).href;
      dbUri = pathToFileURL(path.join(dir, 'db.service')).href;
      h = await LspHarness.start({ workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'ws' }] });
    },
    { timeout: 120_000 },
  );

  after(async () => {
    if (h) {
      const code = await h.stop();
      assert.equal(code, 0, 'the server exits with 0 after shutdown + exit');
      assert.notEqual(h.child.exitCode, null, 'no leaked server process');
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('initialize announces the features', () => {
    const caps = h.initializeResult!.capabilities;
    assert.equal(caps.hoverProvider, true);
    assert.equal(caps.documentSymbolProvider, true);
    assert.equal(caps.documentFormattingProvider, true);
    assert.equal(caps.definitionProvider, true);
    assert.equal(caps.referencesProvider, true);
    assert.equal(caps.foldingRangeProvider, true);
    assert.deepEqual(caps.completionProvider?.triggerCharacters, ['=', '%', '[', ' ', '"']);
    assert.deepEqual(caps.semanticTokensProvider?.full, { delta: true });
    assert.ok(caps.semanticTokensProvider?.legend.tokenTypes.includes('macro'));
    assert.deepEqual(caps.renameProvider, { prepareProvider: true });
    for (const k of ['inlayHintProvider', 'documentHighlightProvider', 'selectionRangeProvider', 'workspaceSymbolProvider'] as const)
      assert.equal(caps[k], true, k);
    assert.ok(caps.codeLensProvider && caps.documentLinkProvider && caps.signatureHelpProvider);
    assert.deepEqual((caps.codeActionProvider as { codeActionKinds: string[] }).codeActionKinds, ['quickfix', 'refactor.rewrite']);
  });

  test('ping', async () => {
    assert.equal(await h.connection.sendRequest(PingRequest.type), 'pong');
  });

  test('didOpen publishes diagnostics for that version, fast', async () => {
    const started = performance.now();
    const waiting = h.diagnostics(webUri);
    await h.open(webUri, WEB, 1);
    const p = await waiting;
    const elapsed = performance.now() - started;
    assert.equal(p.version, 1);
    assert.deepEqual(
      p.diagnostics.map(d => [d.code, d.source, d.severity, d.range.start.line, d.message]),
      [['xfleet-unknown-key', 'fleet', 2, 8, 'unrecognized requirement in [X-Fleet] section: "MachineMetaData"; did you mean MachineMetadata?']],
    );
    assert.ok(elapsed < 2000, `first diagnostics took ${elapsed} ms`);
  });

  test('completion, hover, symbols, folding', async () => {
    const list = (await h.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri: webUri },
      position: { line: 9, character: 0 },
    })) as CompletionList;
    assert.deepEqual(
      list.items.map(i => i.label),
      ['MachineID', 'MachineOf', 'MachineMetadata', 'Conflicts', 'Global', 'Replaces'],
    );
    const deps = (await h.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri: webUri },
      position: { line: 2, character: 16 },
    })) as CompletionList;
    assert.ok(
      deps.items.some(i => i.label === 'db.service'),
      deps.items.map(i => i.label).join(),
    );

    // Lists stay small: what every item shares is in itemDefaults (the harness declares what
    // vscode-languageclient does), detail and documentation come with completionItem/resolve.
    const directives = (await h.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri: webUri },
      position: { line: 6, character: 0 },
    })) as CompletionList;
    const restart = directives.items.find(i => i.label === 'Restart');
    assert.ok(restart, directives.items.map(i => i.label).join());
    assert.deepEqual(Object.keys(restart).sort(), ['kind', 'label', 'sortText', 'textEditText']);
    assert.equal(restart.textEditText, 'Restart=${1|no,on-success,on-failure,on-abnormal,on-watchdog,on-abort,always|}');
    assert.deepEqual(directives.itemDefaults?.editRange, { start: { line: 6, character: 0 }, end: { line: 6, character: 0 } });
    assert.equal(directives.itemDefaults?.insertTextFormat, InsertTextFormat.Snippet);
    // The client applies itemDefaults.data to an item before resolving it, as VS Code does.
    const resolved = await h.connection.sendRequest(CompletionResolveRequest.type, { ...restart, data: directives.itemDefaults?.data });
    assert.equal(resolved.label, 'Restart');
    assert.match(resolved.detail ?? '', /restart/i);
    assert.match((resolved.documentation as MarkupContent).value, /Restart=/);
    assert.equal((resolved.documentation as MarkupContent).kind, 'markdown');
    // An item of an older list resolves to itself.
    await h.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: webUri }, position: { line: 6, character: 0 } });
    const stale = await h.connection.sendRequest(CompletionResolveRequest.type, { ...restart, data: directives.itemDefaults?.data });
    assert.equal(stale.documentation, undefined);

    const hover = await h.connection.sendRequest(HoverRequest.type, { textDocument: { uri: webUri }, position: { line: 8, character: 2 } });
    assert.equal(hover, null, 'an unknown [X-Fleet] key has no hover');
    const h2 = await h.connection.sendRequest(HoverRequest.type, { textDocument: { uri: webUri }, position: { line: 7, character: 3 } });
    assert.match((h2!.contents as MarkupContent).value, /^\*\*\[X-Fleet\]\*\* — fleet scheduling options/);

    const symbols = (await h.connection.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri: webUri } })) as DocumentSymbol[];
    assert.deepEqual(
      symbols.map(s => [s.name, s.children?.map(c => c.name)]),
      [
        ['[Unit]', ['Description', 'After']],
        ['[Service]', ['ExecStart']],
        ['[X-Fleet]', ['MachineMetaData']],
      ],
    );
    const folds = await h.connection.sendRequest(FoldingRangeRequest.type, { textDocument: { uri: webUri } });
    assert.deepEqual(
      folds?.map(f => [f.startLine, f.endLine]),
      [
        [0, 2],
        [4, 5],
        [7, 8],
      ],
    );
  });

  test('code action fixes the diagnostic; formatting normalises Key = Value', async () => {
    const p = h.published.get(webUri)!.at(-1)!;
    const actions = await h.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: webUri },
      range: p.diagnostics[0]!.range,
      context: { diagnostics: p.diagnostics },
    });
    const titles = (actions ?? []).map(a => a.title);
    assert.deepEqual(titles, ['Change to MachineMetadata=', 'Disable xfleet-unknown-key for this line', 'Disable xfleet-unknown-key for this file']);
    const edits = await h.connection.sendRequest(DocumentFormattingRequest.type, {
      textDocument: { uri: webUri },
      options: { tabSize: 2, insertSpaces: true },
    });
    assert.deepEqual(edits, [
      { range: { start: { line: 1, character: 11 }, end: { line: 1, character: 12 } }, newText: '' },
      { range: { start: { line: 1, character: 13 }, end: { line: 1, character: 14 } }, newText: '' },
    ]);
  });

  test('definition and references across the workspace (scanned from disk)', async () => {
    let defs: unknown = [];
    for (let i = 0; i < 50 && (!Array.isArray(defs) || defs.length === 0); i++) {
      defs = await h.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri: webUri }, position: { line: 2, character: 8 } });
      if (!Array.isArray(defs) || defs.length === 0) await new Promise(r => setTimeout(r, 50));
    }
    assert.deepEqual(defs, [{ uri: dbUri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }]);
    const refs = await h.connection.sendRequest(ReferencesRequest.type, {
      textDocument: { uri: webUri },
      position: { line: 0, character: 0 },
      context: { includeDeclaration: true },
    });
    assert.deepEqual(refs, [{ uri: dbUri, range: { start: { line: 3, character: 10 }, end: { line: 3, character: 14 } } }]);
  });

  test('editor features: tokens, hints, lens, links, highlight, selection, signature, symbols, refactor, rename', async () => {
    const doc = (uri: string) => ({ textDocument: { uri } });
    const full = await h.connection.sendRequest(SemanticTokensRequest.type, doc(webUri));
    assert.deepEqual(full!.data.slice(0, 10), [0, 1, 4, 0, 2, 1, 0, 11, 1, 0], '[Unit] then Description');
    const delta = await h.connection.sendRequest(SemanticTokensDeltaRequest.type, { ...doc(webUri), previousResultId: full!.resultId! });
    assert.deepEqual((delta as SemanticTokensDelta).edits, []);

    const apiUri = pathToFileURL(path.join(dir, 'api@1.service')).href;
    await h.open(apiUri, '[Service]\nExecStart=/bin/api %i\nTimeoutStartSec=90\n[X-Fleet]\nMachineOf=db.service\nConflicts=api@*\n');
    const hints = await h.connection.sendRequest(InlayHintRequest.type, {
      ...doc(apiUri),
      range: { start: { line: 0, character: 0 }, end: { line: 6, character: 0 } },
    });
    assert.deepEqual(
      hints?.map(x => [x.position, x.label]),
      [
        [{ line: 1, character: 21 }, '= 1'],
        [{ line: 2, character: 18 }, '= 1min 30s'],
      ],
    );
    assert.deepEqual(await h.connection.sendRequest(CodeLensRequest.type, doc(apiUri)), []);
    const M = '5911b4a9'.padEnd(32, '0');
    await h.connection.sendNotification(ClusterContextNotification.type, {
      context: {
        machines: [
          { id: M, primaryIP: '127.0.0.2', metadata: {} },
          { id: 'b'.repeat(32), metadata: {} },
        ],
        units: ['db.service'],
        unitDetails: [{ name: 'db.service', desiredState: 'launched', machineID: M }],
      },
    });
    const lenses = await h.connection.sendRequest(CodeLensRequest.type, doc(apiUri));
    assert.deepEqual(
      lenses?.map(l => [l.command!.title, l.command!.command, l.command!.arguments]),
      [
        ['not in the cluster', '', undefined],
        ['Start', 'fleet.startUnit', [apiUri]],
        ['eligible on 1 of 2 machines: 5911b4a9', '', undefined],
        ['follows db.service to 5911b4a9 (127.0.0.2)', '', undefined],
      ],
    );
    await h.connection.sendNotification(ClusterContextNotification.type, { context: null });

    const links = await h.connection.sendRequest(DocumentLinkRequest.type, doc(webUri));
    assert.deepEqual(
      links?.map(l => [l.range.start, l.target]),
      [[{ line: 2, character: 6 }, dbUri]],
    );
    const highlights = await h.connection.sendRequest(DocumentHighlightRequest.type, { ...doc(webUri), position: { line: 2, character: 8 } });
    assert.deepEqual(
      highlights?.map(x => x.range),
      [{ start: { line: 2, character: 6 }, end: { line: 2, character: 16 } }],
    );
    const [sel] = (await h.connection.sendRequest(SelectionRangeRequest.type, { ...doc(webUri), positions: [{ line: 5, character: 12 }] }))!;
    assert.deepEqual(
      [sel!.range, sel!.parent?.range.start, sel!.parent?.parent?.range.start],
      [
        { start: { line: 5, character: 10 }, end: { line: 5, character: 22 } },
        { line: 5, character: 0 },
        { line: 4, character: 0 },
      ],
    );
    const sig = await h.connection.sendRequest(SignatureHelpRequest.type, { ...doc(webUri), position: { line: 5, character: 10 } });
    assert.equal(sig?.signatures[0]?.label, 'ExecStart=[@-:+!|]/path/to/executable [argument …]');
    const symbols = (await h.connection.sendRequest(WorkspaceSymbolRequest.type, { query: 'dbserv' })) as SymbolInformation[];
    assert.deepEqual(
      symbols.map(x => [x.name, x.location.uri]),
      [
        ['db.service', dbUri],
        ['[Unit]', dbUri],
        ['[X-Fleet]', dbUri],
      ],
    );
    const rewrite = await h.connection.sendRequest(CodeActionRequest.type, {
      ...doc(apiUri),
      range: { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } },
      context: { diagnostics: [], only: ['refactor.rewrite'] },
    });
    assert.deepEqual(
      rewrite?.map(a => [a.title, (a as CodeAction).kind]),
      [['Sort [X-Fleet] keys', 'refactor.rewrite']],
    );

    const prepared = await h.connection.sendRequest(PrepareRenameRequest.type, { ...doc(webUri), position: { line: 2, character: 8 } });
    assert.deepEqual(prepared, { range: { start: { line: 2, character: 6 }, end: { line: 2, character: 16 } }, placeholder: 'db.service' });
    const edit = await h.connection.sendRequest(RenameRequest.type, { ...doc(webUri), position: { line: 2, character: 8 }, newName: 'data.service' });
    assert.deepEqual(edit?.documentChanges, [
      {
        textDocument: { uri: apiUri, version: null },
        edits: [{ range: { start: { line: 4, character: 10 }, end: { line: 4, character: 20 } }, newText: 'data.service' }],
      },
      {
        textDocument: { uri: webUri, version: null },
        edits: [{ range: { start: { line: 2, character: 6 }, end: { line: 2, character: 16 } }, newText: 'data.service' }],
      },
      { kind: 'rename', oldUri: dbUri, newUri: dbUri.replace(/db\.service$/, 'data.service') },
    ]);
    await assert.rejects(
      h.connection.sendRequest(RenameRequest.type, { ...doc(webUri), position: { line: 2, character: 8 }, newName: 'db.socket' }),
      /keep the suffix/,
    );
    await h.connection.sendNotification(DidCloseTextDocumentNotification.type, doc(apiUri));
  });

  test("a drop-in: diagnostics for its directory's unit type, hover with the effective configuration", async () => {
    const uri = pathToFileURL(path.join(dir, 'db.service.d', '10-restart.conf')).href;
    const got = h.diagnostics(uri, p => p.version === 1);
    await h.open(uri, '[Service]\nRestart=sometimes\nRestartSec=5\n', 1);
    assert.deepEqual(
      (await got).diagnostics.map(d => [d.code, d.severity, d.range.start.line]),
      [['invalid-value', 2, 1]],
    );
    const hover = await h.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 2, character: 2 } });
    assert.match(
      (hover!.contents as MarkupContent).value,
      /^\*\*Effective in `db.service`\*\* \(merged from `db.service`, `db.service.d\/10-restart.conf`\):\n\n- `RestartSec=5` — from `db.service.d\/10-restart.conf`/,
    );
    await h.connection.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });

    // A unit whose ExecStart= is in a drop-in: missing-required goes once the drop-in is open.
    const svc = pathToFileURL(path.join(dir, 'svc.service')).href;
    const missing = h.diagnostics(svc, p => p.version === 1);
    await h.open(svc, '[Unit]\nDescription=svc\n[Service]\nType=simple\n', 1);
    assert.deepEqual(
      (await missing).diagnostics.map(d => d.code),
      ['missing-required'],
    );
    const lifted = h.diagnostics(svc, p => p.diagnostics.length === 0);
    const exec = pathToFileURL(path.join(dir, 'svc.service.d', 'exec.conf')).href;
    await h.open(exec, '[Service]\nExecStart=/bin/svc\n', 1);
    await lifted;
    for (const u of [exec, svc]) await h.connection.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri: u } });
  });

  test('fleet/validateForSubmit by URI and by text', async () => {
    const byUri = await h.connection.sendRequest(ValidateForSubmitRequest.type, { uri: webUri });
    assert.equal(byUri.blocking, false);
    assert.deepEqual(
      byUri.problems.map(p => p.code),
      ['xfleet-unknown-key'],
    );
    const byText = await h.connection.sendRequest(ValidateForSubmitRequest.type, {
      text: '[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineID=4d389537d9d14bdabe8be54a9c29f68d\nGlobal=true\n',
      name: 'x.service',
    });
    assert.equal(byText.blocking, true);
    assert.equal(byText.name, 'x.service');
    assert.deepEqual(
      byText.problems.map(p => [p.code, p.severity, p.message]),
      [
        ['fleet-options', 'error', 'MachineID cannot be used with Global'],
        ['fleet-options', 'error', 'MachineID cannot be used with Global'],
      ],
    );
    await assert.rejects(h.connection.sendRequest(ValidateForSubmitRequest.type, { uri: 'file:///nonexistent/zz.service' }), /neither open nor readable/);
  });

  test('edits, settings and the cluster context re-publish', async () => {
    let next = h.diagnostics(webUri, p => p.version === 2);
    await h.connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri: webUri, version: 2 },
      contentChanges: [{ range: { start: { line: 8, character: 0 }, end: { line: 8, character: 15 } }, text: 'MachineMetadata' }],
    });
    assert.deepEqual((await next).diagnostics, []);

    next = h.diagnostics(webUri, p => p.diagnostics.length > 0);
    await h.connection.sendNotification(ClusterContextNotification.type, {
      context: {
        machines: [
          { id: 'a'.repeat(32), metadata: { region: 'eu' } },
          { id: 'b'.repeat(32), metadata: { region: 'ap' } },
        ],
        units: [],
      },
    });
    // The placement preview is in hover and code lens; only "no machine qualifies" is a diagnostic.
    assert.deepEqual(
      (await next).diagnostics.map(d => [d.code, d.message]),
      [
        [
          'xfleet-no-eligible-machine',
          "No machine of the connected cluster can run this unit now: no machine has metadata region=us. Change its [X-Fleet] requirements, or the machines' metadata.",
        ],
      ],
    );

    h.settings = { diagnostics: { rules: { 'xfleet-no-eligible-machine': 'off' } } };
    next = h.diagnostics(webUri, p => p.diagnostics.length === 0);
    await h.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
    await next;
    h.settings = {};
    await h.connection.sendNotification(ClusterContextNotification.type, { context: null });
  });

  test('watched-file events update the index', async () => {
    fs.writeFileSync(path.join(dir, 'cache.service'), '[Unit]\nDescription=cache\n');
    const uri = pathToFileURL(path.join(dir, 'cache.service')).href;
    await h.connection.sendNotification(DidChangeWatchedFilesNotification.type, { changes: [{ uri, type: FileChangeType.Created }] });
    let labels: string[] = [];
    for (let i = 0; i < 50 && !labels.includes('cache.service'); i++) {
      const list = (await h.connection.sendRequest(CompletionRequest.type, {
        textDocument: { uri: webUri },
        position: { line: 2, character: 16 },
      })) as CompletionList;
      labels = list.items.map(x => x.label);
      if (!labels.includes('cache.service')) await new Promise(r => setTimeout(r, 50));
    }
    assert.deepEqual(labels, ['cache.service', 'db.service']);
    fs.rmSync(path.join(dir, 'cache.service'));
    await h.connection.sendNotification(DidChangeWatchedFilesNotification.type, { changes: [{ uri, type: FileChangeType.Deleted }] });
  });

  test('non-ASCII text round-trips whole (each message is framed by its byte length)', async () => {
    const uri = pathToFileURL(path.join(dir, 'cafe.service')).href;
    const got = h.diagnostics(uri, p => p.version === 1);
    await h.open(uri, '[Unit]\nDescription=Café ☕ — 東京\nFöö=1\n[Service]\nExecStart=/bin/echo ☕\n', 1);
    const p = await got;
    assert.deepEqual(
      p.diagnostics.map(d => [d.code, d.range.start.line]),
      [['unknown-directive', 2]],
    );
    assert.match(String(p.diagnostics[0]!.message), /Föö=/);
  });

  test('closing a document clears its diagnostics', async () => {
    const next = h.diagnostics(webUri, p => p.diagnostics.length === 0 && p.version === undefined);
    await h.connection.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri: webUri } });
    await next;
  });
});

describe('language server process lifetime (stdio)', () => {
  test('stdin closing without shutdown ends the server with 1; after shutdown with 0', async () => {
    ensureBuilt();
    const a = await LspHarness.start();
    a.child.stdin!.end();
    const codeA = await new Promise<number | null>(r => (a.child.exitCode !== null ? r(a.child.exitCode) : a.child.once('exit', c => r(c))));
    assert.equal(codeA, 1);
    a.connection.dispose();

    const b = await LspHarness.start();
    await b.connection.sendRequest('shutdown');
    b.child.stdin!.end();
    const codeB = await new Promise<number | null>(r => (b.child.exitCode !== null ? r(b.child.exitCode) : b.child.once('exit', c => r(c))));
    assert.equal(codeB, 0);
    b.connection.dispose();
  });

  test('start-up: no child_process or crypto before the first diagnostics; the V8 code cache is written, then used', async () => {
    ensureBuilt();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-start-'));
    try {
      // A preload that records which Node built-ins the process loaded, and whether dist/server.js took a cache.
      const preload = path.join(tmp, 'record.js');
      fs.writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(process.env.RECORD_TO, JSON.stringify(process.moduleLoadList)));`);
      const cacheDir = path.join(tmp, 'cache');
      const startOnce = async (record: string, stayMs: number) => {
        const h = await LspHarness.start({ execArgv: ['--require', preload], env: { RECORD_TO: record, FLEET_SERVER_CACHE_DIR: cacheDir } });
        const uri = 'file:///start/web.service';
        const first = h.diagnostics(uri);
        await h.open(uri, '[Service]\nExecStart=/bin/true\n');
        await first;
        await new Promise(r => setTimeout(r, stayMs));
        assert.equal(await h.stop(), 0);
        return JSON.parse(fs.readFileSync(record, 'utf8')) as string[];
      };
      const loaded = await startOnce(path.join(tmp, 'a.json'), 1500);
      for (const m of ['child_process', 'crypto']) assert.ok(!loaded.includes(`NativeModule ${m}`), `${m} loaded at start-up`);
      const written = fs.readdirSync(cacheDir);
      assert.equal(written.length, 1, 'one cache file after the first start');
      const size = fs.statSync(path.join(cacheDir, written[0]!)).size;
      assert.ok(size > 100_000, `cache of ${size} bytes`);
      // Started again: the cache is accepted, so it is not rewritten.
      const mtime = fs.statSync(path.join(cacheDir, written[0]!)).mtimeMs;
      await startOnce(path.join(tmp, 'b.json'), 1500);
      assert.deepEqual(fs.readdirSync(cacheDir), written);
      assert.equal(fs.statSync(path.join(cacheDir, written[0]!)).mtimeMs, mtime, 'cache rewritten: V8 rejected it');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
