/**
 * What the cluster map and the unit graph panels set up alike: the webview options (scripts from
 * dist/webview only) and the page (webviewParts' shell with a fresh nonce and the bundled script).
 */
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { makeNonce, webviewShell } from './webviewParts';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
}

/** The webview scripts' text, read once per extension host (they change only with the extension). */
const scripts = new Map<string, string | undefined>();

function scriptText(file: vscode.Uri): string | undefined {
  if (!scripts.has(file.fsPath)) {
    let text: string | undefined;
    try {
      text = readFileSync(file.fsPath, 'utf8');
    } catch {
      text = undefined; // not a local file (a virtual workspace's extension): the webview loads it
    }
    scripts.set(file.fsPath, text);
  }
  return scripts.get(file.fsPath);
}

/**
 * Loads `dist/webview/<script>` into the panel under the shell's CSP, its text inside the page (a
 * fetch of the file would be one more round trip to the extension host's machine before the
 * first paint).
 */
export function loadWebview(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, page: { script: string; title: string; css: string }): void {
  panel.webview.options = webviewOptions(extensionUri);
  const file = vscode.Uri.joinPath(extensionUri, 'dist', 'webview', page.script);
  panel.webview.html = webviewShell({
    cspSource: panel.webview.cspSource,
    nonce: makeNonce(n => crypto.getRandomValues(new Uint8Array(n))),
    scriptUri: panel.webview.asWebviewUri(file).toString(),
    scriptText: file.scheme === 'file' ? scriptText(file) : undefined,
    title: page.title,
    css: page.css,
  });
}
