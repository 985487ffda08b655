/**
 * The LSP wiring of the editor features beyond the basics: semantic tokens (full and delta, the
 * previous result kept per document), inlay hints, code lens, rename with prepare, document
 * links, highlights, selection ranges, signature help, workspace symbols and refactor.rewrite.
 */
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import {
  CodeActionKind,
  CodeLensRefreshRequest,
  InlayHintRefreshRequest,
  ResponseError,
  ErrorCodes,
  type ClientCapabilities,
  type SemanticTokens,
  type SemanticTokensDelta,
  type Connection,
  type ServerCapabilities,
} from 'vscode-languageserver';
import * as service from '../service';
import { pathToUri, uriToPath } from './uris';
import { errorMessage } from '../../../protocol/src/log';

export const EDITOR_CAPABILITIES: ServerCapabilities = {
  semanticTokensProvider: { legend: service.SEMANTIC_TOKENS_LEGEND, full: { delta: true }, range: false },
  inlayHintProvider: true,
  codeLensProvider: { resolveProvider: false },
  renameProvider: { prepareProvider: true },
  documentLinkProvider: { resolveProvider: false },
  documentHighlightProvider: true,
  selectionRangeProvider: true,
  signatureHelpProvider: { triggerCharacters: ['=', ' '], retriggerCharacters: ['"'] },
  workspaceSymbolProvider: true,
};

export const CODE_ACTION_KINDS = [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite];

type WithDoc = <T>(uri: string, empty: T, f: (doc: service.UnitDocument, ctx: service.ServiceContext) => T) => Promise<T>;

export interface EditorFeatureDeps {
  withDoc: WithDoc;
  /** The context for requests not about one document (workspace symbols). */
  context: () => Promise<service.ServiceContext>;
  folders: () => readonly string[];
}

/** An absolute path written in a unit → the file under a workspace folder that has it, when it exists. */
export function workspacePathResolver(folders: () => readonly string[]): (path: string, fromUri: string) => string | undefined {
  return path => {
    for (const f of folders()) {
      const root = uriToPath(f);
      if (root === undefined) continue;
      const inside = path.startsWith(root + sep) ? path : join(root, path);
      if (existsSync(inside)) return pathToUri(inside);
    }
    return undefined;
  };
}

export class EditorFeatures {
  private readonly tokens = new Map<string, { id: string; data: number[] }>();
  private nextId = 1;
  private refreshLenses = false;
  private refreshHints = false;

  constructor(
    private readonly connection: Connection,
    private readonly deps: EditorFeatureDeps,
  ) {}

  configure(capabilities: ClientCapabilities): void {
    this.refreshLenses = !!capabilities.workspace?.codeLens?.refreshSupport;
    this.refreshHints = !!capabilities.workspace?.inlayHint?.refreshSupport;
  }

  /** The cluster changed: lenses and hints that show it are stale. */
  clusterChanged(): void {
    if (this.refreshLenses) void this.connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
    if (this.refreshHints) void this.connection.sendRequest(InlayHintRefreshRequest.type).catch(() => undefined);
  }

  forget(uri: string): void {
    this.tokens.delete(uri);
  }

  listen(): void {
    const c = this.connection;
    const { withDoc } = this.deps;
    const offset = (doc: service.UnitDocument, p: { line: number; character: number }) => doc.document.offsetAt(p);
    const keep = (uri: string, data: number[]) => {
      const id = String(this.nextId++);
      this.tokens.set(uri, { id, data });
      return id;
    };
    c.languages.semanticTokens.on(p =>
      withDoc<SemanticTokens>(p.textDocument.uri, { data: [] }, (doc, ctx) => {
        const data = service.semanticTokens(doc, ctx);
        return { resultId: keep(p.textDocument.uri, data), data };
      }),
    );
    c.languages.semanticTokens.onDelta(p =>
      withDoc<SemanticTokens | SemanticTokensDelta>(p.textDocument.uri, { edits: [] }, (doc, ctx) => {
        const data = service.semanticTokens(doc, ctx);
        const previous = this.tokens.get(p.textDocument.uri);
        const resultId = keep(p.textDocument.uri, data);
        if (!previous || previous.id !== p.previousResultId) return { resultId, data };
        return { resultId, edits: service.semanticTokensEdits(previous.data, data) };
      }),
    );
    c.languages.inlayHint.on(p =>
      withDoc(p.textDocument.uri, [], (doc, ctx) => service.inlayHints(doc, { start: offset(doc, p.range.start), end: offset(doc, p.range.end) }, ctx)),
    );
    c.onCodeLens(p => withDoc(p.textDocument.uri, [], (doc, ctx) => service.codeLenses(doc, ctx)));
    c.onPrepareRename(p => withDoc(p.textDocument.uri, null, (doc, ctx) => service.prepareRename(doc, offset(doc, p.position), ctx) ?? null));
    c.onRenameRequest(async p => {
      const result = await withDoc(p.textDocument.uri, undefined, (doc, ctx) => {
        try {
          return service.rename(doc, offset(doc, p.position), p.newName, ctx);
        } catch (e) {
          throw new ResponseError(ErrorCodes.InvalidParams, errorMessage(e));
        }
      });
      if (!result) return null;
      if (result.notChanged.length > 0) {
        const list = result.notChanged.map(n => `${n.uri.slice(n.uri.lastIndexOf('/') + 1)}:${n.range.start.line + 1}: ${n.reason}`).join('; ');
        void c.window.showWarningMessage(`Rename left ${result.notChanged.length} reference(s) unchanged — review them: ${list}`);
      }
      return result.edit;
    });
    c.onDocumentLinks(p => withDoc(p.textDocument.uri, [], (doc, ctx) => service.documentLinks(doc, ctx)));
    c.onDocumentHighlight(p => withDoc(p.textDocument.uri, [], (doc, ctx) => service.documentHighlights(doc, offset(doc, p.position), ctx)));
    c.onSelectionRanges(p =>
      withDoc(p.textDocument.uri, [], doc =>
        service.selectionRanges(
          doc,
          p.positions.map(x => offset(doc, x)),
        ),
      ),
    );
    c.onSignatureHelp(p => withDoc(p.textDocument.uri, null, (doc, ctx) => service.signatureHelp(doc, offset(doc, p.position), ctx)));
    c.onWorkspaceSymbol(async p => service.workspaceSymbols(p.query, await this.deps.context()));
  }
}
