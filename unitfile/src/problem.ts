/**
 * A finding about a unit file. Positions are UTF-16 offsets into the text that was parsed
 * (conversion to line/character happens only in adapters).
 */
export type Severity = 'error' | 'warning' | 'information' | 'hint';

/** Who would reject or act on this problem: fleet's API, fleetctl, systemd on the host, or nobody (advice). */
export type EnforcedBy = 'fleet' | 'fleetctl' | 'systemd' | 'advice';

export interface TextEdit {
  start: number;
  end: number;
  newText: string;
}

/** A quick fix attached to a problem: a title and the edits that carry it out. */
export interface Fix {
  title: string;
  edits: TextEdit[];
  /** The one fix an editor may apply without asking (`isPreferred` in LSP). */
  preferred?: boolean;
}

export interface Problem {
  /** Stable rule code, e.g. `fleet-parse`, `unknown-directive`. Users key severity overrides and suppressions on it. */
  code: string;
  message: string;
  severity: Severity;
  enforcedBy: EnforcedBy;
  start: number;
  end: number;
  /** Marks the range as deprecated / unnecessary (rendered struck through / faded). */
  tags?: ('deprecated' | 'unnecessary')[];
  fixes?: Fix[];
}

export namespace Problem {
  export function make(
    code: string,
    severity: Severity,
    enforcedBy: EnforcedBy,
    start: number,
    end: number,
    message: string,
    extra?: Pick<Problem, 'tags' | 'fixes'>,
  ): Problem {
    const p: Problem = { code, message, severity, enforcedBy, start, end };
    if (extra?.tags) p.tags = extra.tags;
    if (extra?.fixes) p.fixes = extra.fixes;
    return p;
  }
}
