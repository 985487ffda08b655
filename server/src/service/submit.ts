/** The check the client runs before any submit to a cluster: every problem, and whether errors block it. */
import type { ValidateForSubmitResult } from '../../../protocol/src/lsp';
import { applyOverrides, computeProblems } from './diagnostics';
import { rangeOf, type ServiceContext, type UnitDocument } from './types';

export function validateForSubmit(doc: UnitDocument, ctx: ServiceContext): ValidateForSubmitResult {
  // Placement is advice for the editor; submit judges the unit itself.
  const problems = applyOverrides(computeProblems(doc, { ...ctx, cluster: undefined }), ctx.settings.rules);
  return {
    name: doc.unitName ?? '',
    problems: problems.map(p => ({
      code: p.code,
      message: p.message,
      severity: p.severity,
      enforcedBy: p.enforcedBy,
      range: rangeOf(doc.document, p.start, p.end),
    })),
    blocking: problems.some(p => p.severity === 'error'),
  };
}
