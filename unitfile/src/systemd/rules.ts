/**
 * The systemd half of the rule table: sections, directives and values checked against the
 * directive catalog (unknown, misplaced, deprecated, removed or too new; bad values by kind;
 * required and duplicate settings).
 */
import type { Rule } from '../rules';

export const SYSTEMD_RULES: readonly Rule[] = [];
