// Building blocks shared by the built-in processes: who signs, common units, and the release tests
// whose method and acceptance are the same for every cell product here. Data, not code paths.
import type { ProcessDefinitionInput } from '../definition.js';

type StepInput = ProcessDefinitionInput['phases'][number]['steps'][number];

export const operatorSigns = [
  { meaning: 'performed' as const, roles: ['operator' as const, 'supervisor' as const] },
];
// Steps marked (V) in processes.md: a second person verifies (separation of duties, DESIGN.md).
export const operatorSignsVerified = [
  ...operatorSigns,
  { meaning: 'verified' as const, roles: ['operator' as const, 'supervisor' as const] },
];
export const qcSigns = [{ meaning: 'performed' as const, roles: ['qc' as const] }];

export const PERCENT = { unit: '%', decimals: 1, limits: { min: 0, max: 100 } };
export const TEMPERATURE = { unit: '°C', decimals: 1, limits: { min: -200, max: 60 } };

export const viability = { name: 'viability', label: { en: 'Viability', vi: 'Khả năng sống' }, kind: 'number' as const, ...PERCENT };

export const releaseViability: StepInput = {
  id: 'release-viability',
  title: { en: 'Viability', vi: 'Khả năng sống' },
  stage: 'release',
  after: [],
  fields: [{ ...viability, kind: 'result', spec: { min: 70 } }],
  signatures: qcSigns,
};

export const releaseMycoplasma: StepInput = {
  id: 'release-mycoplasma',
  title: { en: 'Mycoplasma (PCR)', vi: 'Mycoplasma (PCR)' },
  stage: 'release',
  after: [],
  fields: [
    { name: 'mycoplasma', label: { en: 'Mycoplasma', vi: 'Mycoplasma' }, kind: 'result', options: ['absent', 'detected'], spec: { oneOf: ['absent'] } },
  ],
  signatures: qcSigns,
};
