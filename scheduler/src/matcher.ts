/**
 * Precompiled unit-name globs for Conflicts and Replaces. Literal patterns compare by equality,
 * patterns made only of `*`, `?` and plain characters become a regular expression with Go
 * path.Match semantics (neither crosses `/`), and anything else (classes, escapes, malformed
 * patterns) goes through unitfile's exact port of path.Match.
 */
import { globMatch, hasGlobMeta } from '../../unitfile/src/glob';

export interface NameMatcher {
  readonly pattern: string;
  /** The one name matched, when the pattern has no glob metacharacters. */
  readonly literal: string | undefined;
  matches(name: string): boolean;
}

const regexSpecial = /[.+^${}()|\]\\]/g;

function compile(pattern: string): NameMatcher {
  if (!hasGlobMeta(pattern)) return { pattern, literal: pattern, matches: name => name === pattern };
  if (!/[[\\]/.test(pattern)) {
    let source = '';
    for (const ch of pattern) {
      if (ch === '*') source += '[^/]*';
      else if (ch === '?') source += '[^/]';
      else source += ch.replace(regexSpecial, '\\$&');
    }
    const re = new RegExp(`^${source}$`, 'su');
    return { pattern, literal: undefined, matches: name => re.test(name) };
  }
  return { pattern, literal: undefined, matches: name => globMatch(pattern, name) };
}

/** A cache of compiled patterns, one per planning run (no module-level state). */
export class MatcherCache {
  private readonly cache = new Map<string, NameMatcher>();

  get(pattern: string): NameMatcher {
    let m = this.cache.get(pattern);
    if (!m) {
      m = compile(pattern);
      this.cache.set(pattern, m);
    }
    return m;
  }

  all(patterns: readonly string[]): NameMatcher[] {
    return patterns.map(p => this.get(p));
  }
}

export function anyMatches(matchers: readonly NameMatcher[], name: string): boolean {
  for (const m of matchers) if (m.matches(name)) return true;
  return false;
}
