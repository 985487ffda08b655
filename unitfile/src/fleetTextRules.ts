/**
 * The fleet rules about the text itself: what fleet's parser ignores or reads differently from
 * how it looks (text before the first section, a # after a value, a comment ending in a backslash).
 */
import { OptionTextMemo, type Finding, type Rule } from './rules';

export const ignoredText: Rule = {
  code: 'fleet-ignored-text',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'Text before the first section header, which fleet ignores.',
  check(ctx, report) {
    for (const r of ctx.file.ignored) {
      report({
        ...r,
        tags: ['unnecessary'],
        message: 'fleet ignores text before the first [Section] header',
        fixes: [{ title: 'Comment out', edits: [{ start: r.start, end: r.start, newText: '# ' }] }],
      });
    }
  },
};

export const hashInValue: Rule = {
  code: 'fleet-hash-in-value',
  severity: 'information',
  enforcedBy: 'advice',
  summary: 'A # after a value is part of the value, not a comment.',
  check(ctx, report) {
    for (const o of ctx.file.options) {
      const value = ctx.file.text.slice(o.valueStart, o.valueEnd);
      if (value.indexOf('#', 1) < 0) continue;
      hashMemo.report(`${o.name}=${value}`, o.valueStart, () => hashFindings(o.name, value, o.valueStart, o.valueEnd), report);
    }
  },
};
const hashMemo = new OptionTextMemo();
function hashFindings(name: string, value: string, valueStart: number, valueEnd: number): Finding[] {
  let quote = '';
  for (let i = 1; i < value.length; i++) {
    const ch = value[i]!;
    if (quote) {
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && /\s/.test(value[i - 1]!)) {
      return [{ start: valueStart + i, end: valueEnd, message: `"${value.slice(i)}" is part of the ${name}= value: comments must start a line` }];
    }
  }
  return [];
}

export const commentContinuation: Rule = {
  code: 'fleet-comment-continuation',
  severity: 'warning',
  enforcedBy: 'advice',
  summary: 'A comment ending in a backslash also swallows the next line.',
  check(ctx, report) {
    for (const c of ctx.file.comments) {
      if (!c.swallows || c.swallowedStart === undefined) continue;
      const text = ctx.file.text;
      const firstEnd = text.indexOf('\n', c.start);
      const lineEnd = firstEnd < 0 ? text.length : firstEnd;
      const bs = text.lastIndexOf('\\', lineEnd);
      report({
        start: c.swallowedStart,
        end: c.end,
        tags: ['unnecessary'],
        message: 'fleet ignores this line: the comment above ends in "\\", which continues the comment',
        ...(bs >= c.start
          ? { fixes: [{ title: 'Remove the trailing backslash from the comment', edits: [{ start: bs, end: bs + 1, newText: '' }], preferred: true }] }
          : {}),
      });
    }
  },
};
