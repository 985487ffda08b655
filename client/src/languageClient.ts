/**
 * The language client: starts dist/server.js over IPC for fleet-unit documents, and its commands.
 * The rest of the extension sends its requests with the typed messages of protocol/src/lsp.ts.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { DROP_IN_GLOB, LANGUAGE_ID, UNIT_FILE_EXTENSIONS, serverExecArgv } from '../../protocol/src/lsp';
import { DisposableStore, toDisposable, type IDisposable } from './dispose';

/** The client id: vscode-languageclient reads `fleet.trace.server` from it. */
export const CLIENT_ID = 'fleet';
export const CLIENT_NAME = 'Fleet Language Server';

/** Commands of the language features (package.json contributes.commands lists the same ids). */
export const LanguageCommands = {
  restartLanguageServer: 'fleet.restartLanguageServer',
  showLanguageServerOutput: 'fleet.showLanguageServerOutput',
} as const;

export const UNIT_FILE_GLOB = `**/*{${UNIT_FILE_EXTENSIONS.join(',')}}`;

export function createLanguageClient(
  context: vscode.ExtensionContext,
  outputChannel: vscode.LogOutputChannel,
): { client: LanguageClient; disposable: IDisposable } {
  const store = new DisposableStore();
  const module = context.asAbsolutePath('dist/server.js');
  // The server keeps the V8 code cache of its bundle in the extension's storage (server/src/boot.ts).
  const env = { FLEET_SERVER_CACHE_DIR: path.join(context.globalStorageUri.fsPath, 'server-cache') };
  const execArgv = serverExecArgv(process.versions.electron !== undefined);
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc, options: { execArgv, env } },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: [...execArgv, '--nolazy', '--inspect=6009'], env } },
  };
  const watcher = store.add(vscode.workspace.createFileSystemWatcher(UNIT_FILE_GLOB));
  const dropInWatcher = store.add(vscode.workspace.createFileSystemWatcher(DROP_IN_GLOB));
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { language: LANGUAGE_ID, scheme: 'file' },
      { language: LANGUAGE_ID, scheme: 'untitled' },
    ],
    synchronize: { fileEvents: [watcher, dropInWatcher] },
    // The server then skips its own didChangeWatchedFiles registration (no duplicate events).
    initializationOptions: { fileEventsSynchronized: true },
    outputChannel,
  };
  const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
  store.add(toDisposable(() => void client.dispose()));
  return { client, disposable: store };
}

/** The language feature's commands: restart the server, show its output. */
export function registerLanguageCommands(client: LanguageClient, outputChannel: vscode.LogOutputChannel): IDisposable {
  const store = new DisposableStore();
  store.add(vscode.commands.registerCommand(LanguageCommands.restartLanguageServer, () => client.restart()));
  store.add(vscode.commands.registerCommand(LanguageCommands.showLanguageServerOutput, () => outputChannel.show(true)));
  return store;
}
