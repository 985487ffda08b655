/**
 * Which `fleet.*` settings need the language server restarted. The language server pulls the
 * others itself (workspace/configuration, per resource); the client's features read theirs with
 * `vscode.workspace.getConfiguration` where they are used.
 */
import type * as vscode from 'vscode';

/** Settings that take effect only after the language server restarts. */
export const requiresServerRestart: readonly string[] = [];

export const config = {
  /** True when the change touches a setting that needs the server restarted. */
  needsServerRestart(e: vscode.ConfigurationChangeEvent): boolean {
    return requiresServerRestart.some(s => e.affectsConfiguration(s));
  },
};
