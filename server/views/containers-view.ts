// GET /batches/{id}/containers: the final containers (bags) of a batch, each labelled and tracked
// (processes.md "several final containers per batch"; 21 CFR 1271.290: tracking from donor to
// recipient). A container is one recorded occurrence of a step that scans the bag's label (a field of
// kind identity compared with the batch number): its volume and dose come from that entry, or from
// the dose the formulation computed and the fraction the bag holds.
import type { BatchRecord } from '../record/record.js';
import { statusOfRecord, stepsOf } from '../record/record.js';
import type { Step } from '../../workflows/definition.js';
import { conditionalRelease, postReleaseFinding } from './disposition-view.js';
import { t, type Lang } from './text.js';

/** ISBT 128 divisions of a product into containers: A0, B0, … (ST-002: first-level division, then 0). */
export const divisionCode = (n: number) => `${String.fromCharCode(64 + Math.min(Math.max(n, 1), 26))}0`;

const labelField = (s: Step) => s.fields.find((f) => f.kind === 'identity' && f.identity === 'batchNumber');

/** The bags' status follows the disposition: quarantine until QA decides. */
function containerStatus(r: BatchRecord): string {
  const status = statusOfRecord(r);
  if (status === 'released') {
    if (postReleaseFinding(r)) return 'released-with-finding';
    return conditionalRelease(r) ? 'released-conditionally' : 'released';
  }
  if (status === 'rejected') return 'rejected';
  if (status === 'terminated') return 'discarded';
  return 'quarantined';
}

export function containersView(r: BatchRecord, lang: Lang = 'en') {
  const steps = stepsOf(r);
  const fills = steps.filter((s) => labelField(s));
  const formulation = steps.find((s) => s.fields.some((f) => f.name === 'totalDoseCells'));
  const formulated = formulation ? r.history.occurrences[formulation.id]?.at(-1)?.values : undefined;
  const status = containerStatus(r);
  const items = fills.flatMap((step) => (r.history.occurrences[step.id] ?? []).map((occ, i) => ({ step, occ, i })));
  return {
    batchId: r.row.id, batchNumber: r.row.batchNumber, din: r.row.din, dinCheck: r.row.dinCheck, chainOfIdentityId: r.row.chainOfIdentityId,
    status,
    items: items.map(({ step, occ }, n) => {
      const v = occ.values;
      const number = typeof v.bagNumber === 'number' ? v.bagNumber : n + 1;
      const volumeField = step.fields.find((f) => f.unit === 'mL' && typeof v[f.name] === 'number');
      const doseField = step.fields.find((f) => f.unit?.startsWith('10^') && typeof v[f.name] === 'number');
      const fraction = typeof v.fractionPercent === 'number' ? v.fractionPercent : undefined;
      const total = formulated?.totalDoseCells;
      const totalUnit = formulation?.fields.find((f) => f.name === 'totalDoseCells')?.unit;
      const dose = doseField
        ? { value: v[doseField.name] as number, unit: doseField.unit!, label: t(doseField.label, lang) }
        : fraction !== undefined && typeof total === 'number'
          ? { value: Math.round(total * fraction) / 100, unit: totalUnit ?? '', label: lang === 'vi' ? 'Liều trong túi' : 'Dose in the bag', fractionPercent: fraction }
          : null;
      const label = labelField(step)!;
      return {
        containerId: `${r.row.batchNumber}-${String(number).padStart(2, '0')}`,
        /** ISBT 128: the DIN with the division of the product this bag holds; no product code is configured for the process. */
        isbt128: { din: r.row.din, productCode: null, division: divisionCode(number) },
        bagNumber: number,
        entryId: occ.entryId,
        stepId: step.id,
        filledAt: occ.recordedAt,
        volume: volumeField ? { value: v[volumeField.name] as number, unit: 'mL' } : null,
        dose,
        // A label that did not match was refused (422) and never recorded: a recorded scan matched.
        labelScan: { field: label.name, value: v[label.name] ?? null, result: v[label.name] === undefined ? 'not-scanned' as const : 'matched' as const },
        status,
      };
    }),
  };
}
