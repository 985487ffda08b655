/**
 * Drives the BUILT language server (dist/server.js) over stdio with a real JSON-RPC client.
 * Used by test/lsp.test.ts and bench/lsp.bench.ts. Only the child started here is ever signalled.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  createProtocolConnection,
  StreamMessageReader,
  type ProtocolConnection,
  ConfigurationRequest,
  RegistrationRequest,
  PublishDiagnosticsNotification,
  type PublishDiagnosticsParams,
  InitializeRequest,
  InitializedNotification,
  ShutdownRequest,
  ExitNotification,
  DidOpenTextDocumentNotification,
  type InitializeResult,
} from 'vscode-languageserver-protocol/node';
import { SERVER_EXEC_ARGV } from '../../protocol/src/lsp';
import { FramedMessageWriter } from '../src/lsp/stdio';

export const ROOT = path.resolve(__dirname, '../..');
export const SERVER_JS = path.join(ROOT, 'dist/server.js');
/** Tests keep the server's V8 code cache (server/src/boot.ts) in out/, not in the user's ~/.cache. */
export const SERVER_ENV = { FLEET_SERVER_CACHE_DIR: path.join(ROOT, 'out', 'server-cache') };

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/server.js with esbuild when it is missing or older than its sources. */
export function ensureBuilt(): void {
  const sources = ['server/src', 'unitfile/src', 'protocol/src'].map(d => path.join(ROOT, d)).filter(d => fs.existsSync(d));
  const newest = Math.max(...sources.map(newestMtime));
  if (fs.existsSync(SERVER_JS) && fs.statSync(SERVER_JS).mtimeMs >= newest) return;
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit', timeout: 120_000 });
  if (!fs.existsSync(SERVER_JS)) throw new Error(`esbuild did not produce ${SERVER_JS}`);
}

export interface HarnessOptions {
  /** The `fleet` settings object returned for workspace/configuration. */
  settings?: unknown;
  workspaceFolders?: { uri: string; name: string }[];
  /** Extra node flags for the server process (e.g. --cpu-prof), after SERVER_EXEC_ARGV (what the extension uses). */
  execArgv?: string[];
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** initializationOptions sent with initialize (e.g. { diagnosticsDelay: 0 }). */
  initializationOptions?: unknown;
}

export class LspHarness {
  private readonly diagnosticsWaiters: { uri: string; accept: (p: PublishDiagnosticsParams) => boolean; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  /** Every publishDiagnostics, newest last, per URI. */
  readonly published = new Map<string, PublishDiagnosticsParams[]>();
  readonly stderr: string[] = [];
  initializeResult: InitializeResult | undefined;
  settings: unknown;
  private exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly connection: ProtocolConnection,
    options: HarnessOptions,
  ) {
    this.settings = options.settings ?? {};
    this.exited = new Promise(resolve => child.once('exit', code => resolve(code)));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => this.stderr.push(d));
    connection.onRequest(ConfigurationRequest.type, params => params.items.map(() => this.settings));
    connection.onRequest(RegistrationRequest.type, () => undefined);
    connection.onNotification('window/logMessage', () => undefined);
    connection.onNotification(PublishDiagnosticsNotification.type, p => {
      const list = this.published.get(p.uri) ?? [];
      list.push(p);
      this.published.set(p.uri, list);
      for (let i = this.diagnosticsWaiters.length - 1; i >= 0; i--) {
        const w = this.diagnosticsWaiters[i]!;
        if (w.uri === p.uri && w.accept(p)) {
          this.diagnosticsWaiters.splice(i, 1);
          w.resolve(p);
        }
      }
    });
    connection.listen();
  }

  /** Spawns `node dist/server.js --stdio` and runs initialize/initialized. */
  static async start(options: HarnessOptions = {}): Promise<LspHarness> {
    const child = spawn(process.execPath, [...SERVER_EXEC_ARGV, ...(options.execArgv ?? []), SERVER_JS, '--stdio'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...SERVER_ENV, ...options.env },
    });
    // One write per message, as the extension's IPC transport sends them (vscode-jsonrpc's stream
    // writer sends the header and the body in two writes, a tick apart).
    const connection = createProtocolConnection(new StreamMessageReader(child.stdout!), new FramedMessageWriter(child.stdin!));
    const h = new LspHarness(child, connection, options);
    h.initializeResult = await h.withTimeout(
      'initialize',
      connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri: options.workspaceFolders?.[0]?.uri ?? null,
        workspaceFolders: options.workspaceFolders ?? null,
        ...(options.initializationOptions !== undefined ? { initializationOptions: options.initializationOptions } : {}),
        capabilities: {
          workspace: { configuration: true, didChangeWatchedFiles: { dynamicRegistration: true } },
          textDocument: {
            publishDiagnostics: { versionSupport: true },
            // As vscode-languageclient declares them: shared item defaults, detail and documentation resolved lazily.
            completion: {
              completionItem: { snippetSupport: true, resolveSupport: { properties: ['documentation', 'detail', 'additionalTextEdits'] } },
              completionList: { itemDefaults: ['commitCharacters', 'editRange', 'insertTextFormat', 'insertTextMode', 'data'] },
            },
          },
        },
      }),
      10_000,
    );
    await connection.sendNotification(InitializedNotification.type, {});
    return h;
  }

  async open(uri: string, text: string, version = 1): Promise<void> {
    await this.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'fleet-unit', version, text } });
  }

  /** The next publishDiagnostics for `uri` that satisfies `accept` (bounded wait). */
  diagnostics(uri: string, accept: (p: PublishDiagnosticsParams) => boolean = () => true, timeoutMs = 5000): Promise<PublishDiagnosticsParams> {
    return this.withTimeout(
      `diagnostics for ${uri}`,
      new Promise<PublishDiagnosticsParams>(resolve => {
        this.diagnosticsWaiters.push({ uri, accept, resolve });
      }),
      timeoutMs,
    );
  }

  withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}; server stderr: ${this.stderr.join('').slice(-2000)}`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** shutdown + exit; waits for the process to end (kills it after 5 s). Returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    try {
      await this.withTimeout('shutdown', this.connection.sendRequest(ShutdownRequest.type), 5000);
      await this.connection.sendNotification(ExitNotification.type);
    } catch {
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(timer);
    this.connection.dispose();
    return code;
  }
}
