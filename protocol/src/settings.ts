/**
 * The language-feature settings (`fleet.*` in package.json contributes.configuration), typed, with
 * defaults and a normaliser. The server pulls them per resource with workspace/configuration; the
 * client reads them through client/src/config.ts.
 */

export type RuleSeverityOverride = 'error' | 'warning' | 'information' | 'hint' | 'off';

export interface FleetLanguageSettings {
  /** `fleet.systemdVersion`: the systemd version units target (catalog filtering, too-new/removed checks). */
  systemdVersion: number;
  /** `fleet.diagnostics.enable`. */
  diagnosticsEnabled: boolean;
  /** `fleet.diagnostics.rules`: per-rule severity overrides keyed by rule code. */
  rules: Readonly<Record<string, RuleSeverityOverride>>;
}

export namespace FleetLanguageSettings {
  export const DEFAULT_SYSTEMD_VERSION = 252;
  /** The section the server asks for with workspace/configuration. */
  export const SECTION = 'fleet';

  export const defaults: FleetLanguageSettings = Object.freeze({
    systemdVersion: DEFAULT_SYSTEMD_VERSION,
    diagnosticsEnabled: true,
    rules: Object.freeze({}),
  });

  const SEVERITIES: readonly string[] = ['error', 'warning', 'information', 'hint', 'off'];

  /**
   * From the raw `fleet` configuration object (as workspace/configuration returns it). Never throws:
   * bad values fall back to defaults, unknown rule severities are dropped.
   */
  export function from(raw: unknown): FleetLanguageSettings {
    const obj = isRecord(raw) ? raw : {};
    const version = obj['systemdVersion'];
    const diagnostics = isRecord(obj['diagnostics']) ? obj['diagnostics'] : {};
    const enable = diagnostics['enable'];
    const rawRules = isRecord(diagnostics['rules']) ? diagnostics['rules'] : {};
    const rules: Record<string, RuleSeverityOverride> = {};
    for (const [code, value] of Object.entries(rawRules)) {
      const v = typeof value === 'string' ? value.toLowerCase() : undefined;
      if (v === 'info') rules[code] = 'information';
      else if (v !== undefined && SEVERITIES.includes(v)) rules[code] = v as RuleSeverityOverride;
    }
    return {
      systemdVersion: typeof version === 'number' && Number.isFinite(version) && version > 0 ? Math.floor(version) : DEFAULT_SYSTEMD_VERSION,
      diagnosticsEnabled: typeof enable === 'boolean' ? enable : true,
      rules,
    };
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
