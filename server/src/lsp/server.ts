/**
 * The LSP adapter: documents, the parse cache, settings, the workspace index, diagnostics
 * scheduling, and one short handler per request that calls the pure service.
 */
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  FileChangeType,
  RegistrationRequest,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseUnitFile, XFLEET_SECTION, type Problem, type UnitFile } from '../../../unitfile/src';
import {
  ClusterContextNotification,
  DROP_IN_GLOB,
  LANGUAGE_ID,
  PingRequest,
  UNIT_FILE_EXTENSIONS,
  UnitGraphRequest,
  ValidateForSubmitRequest,
  type ClusterContext,
  type ValidateForSubmitParams,
  type ValidateForSubmitResult,
} from '../../../protocol/src/lsp';
import type { FleetLanguageSettings } from '../../../protocol/src/settings';
import { errorStack } from '../../../protocol/src/log';
import * as service from '../service';
import { CompletionWire } from './completionWire';
import { DiagnosticsScheduler } from './diagnosticsScheduler';
import { CODE_ACTION_KINDS, EDITOR_CAPABILITIES, EditorFeatures, workspacePathResolver } from './editorFeatures';
import { IdleCollector } from './idleCollector';
import { ParseCache } from './parseCache';
import { SettingsStore } from './settingsStore';
import { dropInOf, unitNameOf } from './uris';
import { WorkspaceUnits } from './workspaceUnits';

export interface ServerOptions {
  catalog?: service.DirectiveCatalog;
  /** Delay between validations of a document while it changes (ms). */
  diagnosticsDelay?: number;
  /** Called when the client sends shutdown (the stdio transport then exits with 0 when stdin closes). */
  onShutdown?: () => void;
}

export function startServer(connection: Connection, options: ServerOptions = {}): void {
  const catalog = options.catalog ?? service.defaultCatalog;
  const documents = new TextDocuments(TextDocument);
  const cache = new ParseCache();
  const log = (m: string) => connection.console.log(m);
  const workspace = new WorkspaceUnits(log);
  let pullConfiguration = false;
  let watchDynamically = false;
  let folders: string[] = [];
  let supportsFolders = false;
  let cluster: ClusterContext | undefined;
  const settings = new SettingsStore(connection, () => pullConfiguration);
  /** The last published problems (after overrides) per URI and version, for code actions. */
  const published = new Map<string, { version: number; problems: Problem[] }>();
  const completionWire = new CompletionWire();
  const idle = new IdleCollector();

  const resolvePath = workspacePathResolver(() => folders);
  const dropIns = (unit: string) => workspace.dropIns(unit);
  const context = (s: FleetLanguageSettings): service.ServiceContext => ({ settings: s, catalog, index: workspace.snapshot(), cluster, resolvePath, dropIns });

  const validate = async (uri: string) => {
    const s = await settings.get(uri);
    const document = documents.get(uri);
    if (!document) return;
    const doc = cache.get(document);
    const ctx = context(s);
    const started = performance.now();
    const problems = s.diagnosticsEnabled ? service.applyOverrides(service.computeProblems(doc, ctx), s.rules) : [];
    idle.worked(performance.now() - started);
    published.set(uri, { version: document.version, problems });
    await connection.sendDiagnostics({ uri, version: document.version, diagnostics: problems.map(p => service.toDiagnostic(doc, p, catalog)) });
  };
  const scheduler = new DiagnosticsScheduler(uri => {
    validate(uri).catch((e: unknown) => connection.console.error(`fleet: validating ${uri} failed: ${errorStack(e)}`));
  }, options.diagnosticsDelay ?? 150);

  // Other open documents may depend on a changed file (MachineOf cycles, placement): revalidate them, trailing.
  let othersTimer: NodeJS.Timeout | undefined;
  const revalidateAll = (except?: string) => {
    if (othersTimer) clearTimeout(othersTimer);
    othersTimer = setTimeout(() => {
      othersTimer = undefined;
      for (const d of documents.all()) if (d.uri !== except) scheduler.schedule(d.uri);
    }, 300);
  };

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    completionWire.configure(params.capabilities);
    editor.configure(params.capabilities);
    pullConfiguration = !!params.capabilities.workspace?.configuration;
    // Our extension watches unit files itself (synchronize.fileEvents) and says so; other clients get a registration.
    const options = params.initializationOptions as { fileEventsSynchronized?: boolean; diagnosticsDelay?: unknown } | undefined;
    // A client may set the typing throttle (ms); benchmarks use 0 to time the pipeline itself.
    const delay = options?.diagnosticsDelay;
    if (typeof delay === 'number' && Number.isFinite(delay) && delay >= 0) scheduler.setDelay(Math.min(delay, 5000));
    watchDynamically = !!params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration && options?.fileEventsSynchronized !== true;
    folders = params.workspaceFolders?.map(f => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
    supportsFolders = !!params.capabilities.workspace?.workspaceFolders;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['=', '%', '[', ' ', '"'], resolveProvider: true },
        hoverProvider: true,
        codeActionProvider: { codeActionKinds: CODE_ACTION_KINDS },
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        documentFormattingProvider: true,
        documentRangeFormattingProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        ...EDITOR_CAPABILITIES,
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
      },
      serverInfo: { name: 'fleet-language-server', version: '0.1.0' },
    };
  });

  connection.onInitialized(() => {
    if (watchDynamically) {
      const globPattern = `**/*{${UNIT_FILE_EXTENSIONS.join(',')}}`;
      const dropInPattern = DROP_IN_GLOB;
      // A fixed registration id: connection.client.register would make a UUID, and node:crypto costs ~30 ms to load.
      void connection.sendRequest(RegistrationRequest.type, {
        registrations: [
          {
            id: 'fleet-unit-files',
            method: DidChangeWatchedFilesNotification.method,
            registerOptions: { watchers: [{ globPattern }, { globPattern: dropInPattern }] },
          },
        ],
      });
    }
    const started = performance.now();
    if (supportsFolders) {
      connection.workspace.onDidChangeWorkspaceFolders(e => {
        for (const removed of e.removed) workspace.removeUnder(removed.uri);
        folders = [...folders.filter(f => !e.removed.some(r => r.uri === f)), ...e.added.map(a => a.uri)];
        workspace.scan(e.added.map(a => a.uri)).then(
          () => revalidateAll(),
          (err: unknown) => connection.console.error(`fleet: workspace scan failed: ${String(err)}`),
        );
        if (e.removed.length > 0) revalidateAll();
      });
    }
    workspace.scan(folders).then(
      count => {
        log(`fleet: indexed ${count} unit file(s) in ${Math.round(performance.now() - started)} ms`);
        revalidateAll();
      },
      (e: unknown) => connection.console.error(`fleet: workspace scan failed: ${String(e)}`),
    );
  });

  /**
   * What other files can see of a document: its [X-Fleet] options (MachineOf cycles). Other open
   * documents are revalidated only when this changes, not on every keystroke.
   */
  const crossFileKeys = new Map<string, string>();
  const crossFileKey = (file: UnitFile) =>
    file.sections
      .filter(x => x.name === XFLEET_SECTION)
      .flatMap(x => x.options.map(o => `${o.name}=${o.value}`))
      .join('\n');
  const updateIndex = (document: TextDocument) => {
    idle.touch();
    const uri = document.uri;
    // A drop-in is not a unit of the index (its unit's hover reads it through workspace.dropIns);
    // what it sets may change its unit's diagnostics (a required ExecStart= in a drop-in).
    const dropIn = dropInOf(uri) !== undefined;
    const name = dropIn ? undefined : unitNameOf(uri);
    const known = name !== undefined && workspace.snapshot().get(name) !== undefined;
    const disk = workspace.diskEntry(uri);
    const before = crossFileKeys.get(uri) ?? (disk ? crossFileKey(disk.file) : undefined);
    const file = cache.get(document).file;
    workspace.setOpen(uri, file);
    const key = dropIn ? file.options.map(o => `${o.section}\0${o.name}=${o.value}`).join('\n') : crossFileKey(file);
    crossFileKeys.set(uri, key);
    if (dropIn ? before !== key : name !== undefined && (!known || before !== key)) revalidateAll(uri);
  };
  documents.onDidOpen(e => {
    updateIndex(e.document);
    scheduler.schedule(e.document.uri);
  });
  documents.onDidChangeContent(e => {
    // (TextDocuments fires onDidChangeContent on open too; the key comparison makes that a no-op.)
    updateIndex(e.document);
    scheduler.schedule(e.document.uri);
  });
  documents.onDidClose(e => {
    const uri = e.document.uri;
    workspace.setOpen(uri, undefined);
    crossFileKeys.delete(uri);
    cache.delete(uri);
    scheduler.cancel(uri);
    published.delete(uri);
    editor.forget(uri);
    settings.forget(uri);
    void connection.sendDiagnostics({ uri, diagnostics: [] });
  });

  connection.onDidChangeWatchedFiles(async e => {
    for (const change of e.changes) {
      if (change.type === FileChangeType.Deleted) workspace.removeFromDisk(change.uri);
      else await workspace.readFromDisk(change.uri);
    }
    revalidateAll();
  });
  connection.onDidChangeConfiguration(e => {
    settings.changed(e.settings);
    for (const d of documents.all()) scheduler.schedule(d.uri);
  });
  connection.onNotification(ClusterContextNotification.type, params => {
    cluster = params.context ?? undefined;
    editor.clusterChanged();
    for (const d of documents.all()) scheduler.schedule(d.uri);
  });
  connection.onRequest(PingRequest.type, () => 'pong' as const);
  connection.onRequest(ValidateForSubmitRequest.type, async params => validateForSubmit(params));
  connection.onRequest(UnitGraphRequest.type, () => service.unitGraph(workspace.snapshot(), catalog));

  const withDoc = async <T>(uri: string, empty: T, f: (doc: service.UnitDocument, ctx: service.ServiceContext) => T): Promise<T> => {
    idle.touch();
    const document = documents.get(uri);
    if (!document) return empty;
    return f(cache.get(document), context(await settings.get(uri)));
  };
  const offset = (doc: service.UnitDocument, p: { line: number; character: number }) => doc.document.offsetAt(p);

  connection.onCompletion(p => withDoc(p.textDocument.uri, null, (doc, ctx) => completionWire.compact(service.complete(doc, offset(doc, p.position), ctx))));
  connection.onCompletionResolve(item => completionWire.resolve(item));
  connection.onHover(p => withDoc(p.textDocument.uri, null, (doc, ctx) => service.hover(doc, offset(doc, p.position), ctx)));
  connection.onDocumentSymbol(p => withDoc(p.textDocument.uri, [], doc => service.documentSymbols(doc)));
  connection.onFoldingRanges(p => withDoc(p.textDocument.uri, [], doc => service.foldingRanges(doc)));
  connection.onDocumentFormatting(p => withDoc(p.textDocument.uri, [], doc => service.formattingEdits(doc)));
  connection.onDocumentRangeFormatting(p =>
    withDoc(p.textDocument.uri, [], doc => service.formattingEdits(doc, { start: offset(doc, p.range.start), end: offset(doc, p.range.end) })),
  );
  connection.onDefinition(p => withDoc(p.textDocument.uri, [], (doc, ctx) => service.definition(doc, offset(doc, p.position), ctx)));
  connection.onReferences(p => withDoc(p.textDocument.uri, [], (doc, ctx) => service.references(doc, ctx, offset(doc, p.position))));
  connection.onCodeAction(p =>
    withDoc(p.textDocument.uri, [], (doc, ctx) => {
      const last = published.get(p.textDocument.uri);
      const problems =
        last && last.version === doc.document.version ? last.problems : service.applyOverrides(service.computeProblems(doc, ctx), ctx.settings.rules);
      const start = offset(doc, p.range.start),
        end = offset(doc, p.range.end);
      const only = p.context.only;
      const wants = (kind: string) => !only || only.some(k => kind === k || kind.startsWith(`${k}.`));
      return [
        ...(wants(CodeActionKind.QuickFix) ? service.codeActions(doc, start, end, problems, catalog) : []),
        ...(wants(CodeActionKind.RefactorRewrite) ? service.refactorActions(doc, start, end, ctx) : []),
      ];
    }),
  );
  const editor = new EditorFeatures(connection, {
    withDoc,
    context: async () => context(folders[0] !== undefined ? await settings.get(folders[0]) : settings.peek('untitled:')),
    folders: () => folders,
  });
  editor.listen();

  async function validateForSubmit(params: ValidateForSubmitParams): Promise<ValidateForSubmitResult> {
    if ('uri' in params) {
      const open = documents.get(params.uri);
      const s = await settings.get(params.uri);
      if (open) return service.validateForSubmit(cache.get(open), context(s));
      let entry = workspace.diskEntry(params.uri);
      if (!entry && (await workspace.readFromDisk(params.uri))) entry = workspace.diskEntry(params.uri);
      if (!entry) throw new Error(`Cannot validate ${params.uri}: the file is neither open nor readable. Open or save it, then submit again.`);
      const document = TextDocument.create(params.uri, LANGUAGE_ID, 0, entry.file.text);
      return service.validateForSubmit({ document, file: entry.file, unitName: unitNameOf(params.uri) }, context(s));
    }
    if (typeof params.text !== 'string' || typeof params.name !== 'string') {
      throw new Error('fleet/validateForSubmit needs { uri } or { text, name } (the unit name, e.g. web@1.service).');
    }
    const uri = `untitled:${encodeURIComponent(params.name)}`;
    const document = TextDocument.create(uri, LANGUAGE_ID, 0, params.text);
    const s = folders[0] !== undefined ? await settings.get(folders[0]) : settings.peek(uri);
    return service.validateForSubmit({ document, file: parseUnitFile(params.text), unitName: params.name }, context(s));
  }

  connection.onShutdown(() => {
    options.onShutdown?.();
    scheduler.dispose();
    idle.dispose();
    if (othersTimer) clearTimeout(othersTimer);
  });
  documents.listen(connection);
}
