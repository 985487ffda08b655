/**
 * Typed getters over the `fleet.*` settings the language features use, and which settings need
 * the language server restarted (the others are pulled by the server with workspace/configuration).
 */
import * as vscode from 'vscode';
import { FleetLanguageSettings } from '../../protocol/src/settings';

export const SECTION = 'fleet';

export type TraceLevel = 'off' | 'messages' | 'verbose';

/** Settings that take effect only after the language server restarts. */
export const requiresServerRestart: readonly string[] = [];
/** Settings that take effect only after a window reload. */
export const requiresReload: readonly string[] = [];

export const config = {
  /** The language settings for a resource (or the window when none). */
  language(scope?: vscode.ConfigurationScope): FleetLanguageSettings {
    const c = vscode.workspace.getConfiguration(SECTION, scope);
    return FleetLanguageSettings.from({
      systemdVersion: c.get('systemdVersion'),
      diagnostics: { enable: c.get('diagnostics.enable'), rules: c.get('diagnostics.rules') },
    });
  },
  traceServer(): TraceLevel {
    const v = vscode.workspace.getConfiguration(SECTION).get<string>('trace.server');
    return v === 'messages' || v === 'verbose' ? v : 'off';
  },
  /** True when the change touches a setting that needs the server restarted. */
  needsServerRestart(e: vscode.ConfigurationChangeEvent): boolean {
    return requiresServerRestart.some(s => e.affectsConfiguration(s));
  },
};
