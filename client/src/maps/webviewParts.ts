/**
 * The vscode-free parts of the map webviews: the HTML shell (a strict CSP whose only script and
 * style carry a fresh nonce; the script comes from asWebviewUri), and which context actions the
 * explorer offers for a tree item (read from the manifest's `view/item/context` menu, so the map
 * offers exactly the explorer's actions).
 */

export interface ShellOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  nonce: string;
  /** `webview.asWebviewUri(dist/webview/<name>.js)` as a string: loaded unless `scriptText` is given. */
  scriptUri: string;
  /** The script itself (that file's text), placed in the nonce'd <script>: no fetch of the file (a remote round trip in code-server or Codespaces). */
  scriptText?: string | undefined;
  title: string;
  /** CSS, placed in a nonce'd <style>. */
  css: string;
}

/** Whether the script can sit inside <script>…</script> as it is. */
const inlinable = (text: string): boolean => !/<\/script|<!--/i.test(text);

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

export function webviewShell(o: ShellOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce)) throw new Error('webviewShell: the nonce must be at least 16 base64 characters');
  const csp = [
    "default-src 'none'",
    `img-src ${o.cspSource} data:`,
    `style-src ${o.cspSource} 'nonce-${o.nonce}'`,
    `script-src 'nonce-${o.nonce}'`,
    `font-src ${o.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(o.title)}</title>
<style nonce="${o.nonce}">${o.css}</style>
</head>
<body>
<main id="root" aria-busy="true"><p class="status">Loading…</p></main>
${
  o.scriptText !== undefined && inlinable(o.scriptText)
    ? `<script nonce="${o.nonce}">${o.scriptText}</script>`
    : `<script nonce="${o.nonce}" src="${escapeHtml(o.scriptUri)}"></script>`
}
</body>
</html>`;
}

/** 32 random characters for a CSP nonce; `random` returns bytes (crypto.getRandomValues in the adapter). */
export function makeNonce(random: (n: number) => Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...random(32)].map(b => alphabet[b % alphabet.length]).join('');
}

export interface MenuItem {
  command: string;
  when?: string;
  group?: string;
}

export interface ContextAction {
  command: string;
  title: string;
}

/**
 * The `view/item/context` entries shown for a tree item with `contextValue`, in menu order (inline
 * duplicates left out). A `when` is read for its `viewItem == x` and `viewItem =~ /re/` terms, ORed,
 * which is how every entry of this manifest is written.
 */
export function contextActions(menu: readonly MenuItem[], titles: ReadonlyMap<string, string>, contextValue: string): ContextAction[] {
  const out: ContextAction[] = [];
  const seen = new Set<string>();
  const ordered = menu
    .filter(m => !(m.group ?? '').startsWith('inline'))
    .map((m, i) => ({ m, i }))
    .sort((a, b) => groupKey(a.m.group).localeCompare(groupKey(b.m.group)) || a.i - b.i);
  for (const { m } of ordered) {
    if (seen.has(m.command) || !matchesViewItem(m.when ?? '', contextValue)) continue;
    seen.add(m.command);
    out.push({ command: m.command, title: titles.get(m.command) ?? m.command });
  }
  return out;
}

function groupKey(group: string | undefined): string {
  const [name = '', order = '0'] = (group ?? '').split('@');
  return `${name}@${order.padStart(4, '0')}`;
}

function matchesViewItem(when: string, value: string): boolean {
  let any = false;
  for (const m of when.matchAll(/viewItem\s*==\s*([\w.-]+)|viewItem\s*=~\s*\/((?:\\\/|[^/])+)\//g)) {
    any = true;
    if (m[1] !== undefined && m[1] === value) return true;
    if (m[2] !== undefined && new RegExp(m[2].replace(/\\\//g, '/')).test(value)) return true;
  }
  return !any && when.trim() === '';
}
