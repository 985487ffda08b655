/**
 * The extension's composition root. activate() creates the language client, then runs each
 * feature registration in FEATURES (add a feature: write `register(services) → IDisposable` in its
 * own module and append it here). Returns an API object for tests.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { config } from './config';
import { DisposableStore, type IDisposable } from './dispose';
import { registerClusterFeatures } from './features';
import { CLIENT_NAME, createLanguageClient, registerLanguageCommands } from './languageClient';
import { errorMessage } from '../../protocol/src/log';

/** What a feature registration gets. */
export interface FleetServices {
  context: vscode.ExtensionContext;
  languageClient: LanguageClient;
  /** The language server's channel ("Fleet Language Server"). */
  outputChannel: vscode.LogOutputChannel;
  /** The cluster features' channel ("Fleet"): connections, deploys, the explorer; one level per line. */
  fleetLog: vscode.LogOutputChannel;
}

export type FeatureRegistration = (services: FleetServices) => IDisposable | Promise<IDisposable>;

/** Every feature of the extension, in activation order. */
export const FEATURES: FeatureRegistration[] = [
  s => registerLanguageCommands(s.languageClient, s.outputChannel),
  s =>
    vscode.workspace.onDidChangeConfiguration(e => {
      if (config.needsServerRestart(e)) void s.languageClient.restart();
    }),
  s => registerClusterFeatures(s.context, { languageClient: s.languageClient, log: s.fleetLog }),
];

export interface FleetExtensionApi {
  languageClient: LanguageClient;
}

export async function activate(context: vscode.ExtensionContext): Promise<FleetExtensionApi> {
  const store = new DisposableStore();
  context.subscriptions.push(store);
  const outputChannel = store.add(vscode.window.createOutputChannel(CLIENT_NAME, { log: true }));
  const { client, disposable } = createLanguageClient(context, outputChannel);
  store.add(disposable);
  const fleetLog = store.add(vscode.window.createOutputChannel('Fleet', { log: true }));
  const services: FleetServices = { context, languageClient: client, outputChannel, fleetLog };
  for (const register of FEATURES) store.add(await register(services));
  try {
    await client.start();
  } catch (e) {
    outputChannel.appendLine(`The fleet language server did not start: ${errorMessage(e)}`);
    void vscode.window.showErrorMessage('The fleet language server did not start. See the "Fleet Language Server" output for details, then reload the window.');
  }
  return { languageClient: client };
}

export function deactivate(): void {
  // Everything is owned by the store in context.subscriptions, which VS Code disposes.
}
