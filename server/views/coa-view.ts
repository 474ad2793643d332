// GET /batches/{id}/coa: the certificate of analysis (21 CFR 211.165, 211.194; EU GMP Part IV §11):
// every release test with its method, its specification in words (composite criteria included), the
// result, pass / fail / pending, who recorded and who verified it, and the disposition.
import type { AppContext } from '../context.js';
import type { BatchRecord } from '../record/record.js';
import { releaseTests } from '../record/release-tests.js';
import type { Criterion, Step } from '../../workflows/definition.js';
import { describeSpec } from '../../workflows/values.js';
import { signatureView } from './entry-view.js';
import { statusAtStart } from '../processes/master-records.js';
import { conditionalRelease, dispositionView, postReleaseFinding } from './disposition-view.js';
import { t, type Lang } from './text.js';

/** A composite criterion in words: "Potency passes when any of: A < 70 % or B > 50 %". */
export function criterionWords(step: Step, c: Criterion, lang: Lang): string {
  const branches = c.anyOf.map((b) => {
    const f = step.fields.find((x) => x.name === b.field);
    return `${f ? t(f.label, lang) : b.field} ${describeSpec(b.spec, f?.unit)}`;
  });
  return lang === 'vi' ? `đạt khi thỏa mãn một trong: ${branches.join(' hoặc ')}` : `passes when any of: ${branches.join(' or ')}`;
}

export function coaTests(r: BatchRecord, lang: Lang = 'en') {
  const signed = (entryIds: string[], meaning: string) =>
    r.signatures.filter((s) => entryIds.includes(s.entryId) && s.meaning === meaning).map(signatureView);
  return releaseTests(r).map((test) => {
    const { step } = test;
    const specification = [
      ...step.fields.filter((f) => f.spec).map((f) => `${t(f.label, lang)}: ${describeSpec(f.spec!, f.unit)}`),
      ...step.criteria.map((c) => `${t(c.label, lang)}: ${criterionWords(step, c, lang)}`),
    ];
    const entryIds = test.entryId ? [test.entryId, ...test.correctionIds] : [];
    return {
      stepId: step.id,
      test: t(step.title, lang),
      method: step.instructions ? t(step.instructions, lang) : t(step.title, lang),
      specification,
      followsRelease: step.mayFollowRelease,
      outcome: test.outcome,
      ...(test.values && {
        results: [
          ...step.fields.filter((f) => test.values![f.name] !== undefined).map((f) => ({
            name: f.name, label: t(f.label, lang), value: test.values![f.name], ...(f.unit && { unit: f.unit }),
            ...(f.spec && { specification: describeSpec(f.spec, f.unit) }), ...(test.results?.[f.name] && { result: test.results[f.name] }),
          })),
          ...step.criteria.filter((c) => test.results?.[c.id]).map((c) => ({
            name: c.id, label: t(c.label, lang), value: null, specification: criterionWords(step, c, lang), result: test.results![c.id],
          })),
        ],
      }),
      ...(test.entryId && { entryId: test.entryId }),
      ...(test.correctionIds.length > 0 && { correctionIds: test.correctionIds }),
      recordedBy: signed(entryIds, 'performed'),
      verifiedBy: signed(entryIds, 'verified'),
    };
  });
}

export function coaView(ctx: AppContext, r: BatchRecord, lang: Lang = 'en') {
  const b = r.row;
  return {
    batchId: b.id, batchNumber: b.batchNumber, processId: b.processId, processVersion: b.processVersion, processHash: b.processHash,
    product: t(r.process.definition.title, lang), productType: r.process.definition.productType,
    din: b.din, dinCheck: b.dinCheck, chainOfIdentityId: b.chainOfIdentityId, ...(b.patient && { patientId: b.patient.id }), ...(b.donor && { donorId: b.donor.id }), training: b.training,
    ...(r.process.definition.autologous && { labelling: 'FOR AUTOLOGOUS USE ONLY' }),
    generatedAt: ctx.clock.now().toISOString(),
    // A rehearsal of a master record not in effect certifies nothing: it says so (Annex 11 §10).
    draftProcess: statusAtStart(r) !== 'effective', processStatusAtStart: statusAtStart(r),
    tests: coaTests(r, lang),
    disposition: dispositionView(r),
    conditionalRelease: conditionalRelease(r),
    postReleaseFinding: postReleaseFinding(r),
  };
}
