/**
 * Settings per resource, pulled with workspace/configuration and cached per URI; cleared when
 * the client reports a change.
 */
import type { Connection } from 'vscode-languageserver';
import { FleetLanguageSettings } from '../../../protocol/src/settings';

export class SettingsStore {
  private readonly cache = new Map<string, Promise<FleetLanguageSettings>>();
  /** The last resolved settings per URI, for synchronous callers (completion) that must not wait. */
  private readonly resolved = new Map<string, FleetLanguageSettings>();
  private global: FleetLanguageSettings = FleetLanguageSettings.defaults;

  constructor(
    private readonly connection: Connection,
    private readonly pull: () => boolean,
  ) {}

  /** Settings for a document (defaults when the client cannot answer workspace/configuration). */
  get(uri: string): Promise<FleetLanguageSettings> {
    if (!this.pull()) return Promise.resolve(this.global);
    let hit = this.cache.get(uri);
    if (!hit) {
      hit = this.connection.workspace
        .getConfiguration({ scopeUri: uri, section: FleetLanguageSettings.SECTION })
        .then(
          raw => FleetLanguageSettings.from(raw),
          (e: unknown) => {
            this.connection.console.warn(`fleet: cannot read settings for ${uri} (${String(e)}); using defaults`);
            return FleetLanguageSettings.defaults;
          },
        )
        .then(s => {
          this.resolved.set(uri, s);
          return s;
        });
      this.cache.set(uri, hit);
    }
    return hit;
  }

  /** The settings last seen for a URI, or the defaults. */
  peek(uri: string): FleetLanguageSettings {
    return this.resolved.get(uri) ?? this.global;
  }

  /** A didChangeConfiguration: forget everything; clients that push settings send them here. */
  changed(pushed: unknown): void {
    this.cache.clear();
    this.resolved.clear();
    if (!this.pull() && pushed && typeof pushed === 'object' && 'fleet' in pushed) {
      this.global = FleetLanguageSettings.from((pushed as { fleet: unknown }).fleet);
    }
  }

  forget(uri: string): void {
    this.cache.delete(uri);
    this.resolved.delete(uri);
  }
}
