/**
 * What the cluster map and the unit graph panels set up alike: the webview options (scripts from
 * dist/webview only) and the page (webviewParts' shell with a fresh nonce and the bundled script).
 */
import * as vscode from 'vscode';
import { makeNonce, webviewShell } from './webviewParts';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
}

/** Loads `dist/webview/<script>` into the panel under the shell's CSP. */
export function loadWebview(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, page: { script: string; title: string; css: string }): void {
  panel.webview.options = webviewOptions(extensionUri);
  panel.webview.html = webviewShell({
    cspSource: panel.webview.cspSource,
    nonce: makeNonce(n => crypto.getRandomValues(new Uint8Array(n))),
    scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', page.script)).toString(),
    title: page.title,
    css: page.css,
  });
}
