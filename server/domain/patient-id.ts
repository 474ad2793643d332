// Patient identifiers: the site's medical record number or a pseudonym, never the patient's name
// (21 CFR 1271.290(c): the record identifies the donor by a distinct code, not by name). The format is
// a site setting (CELLBATCH_PATIENT_ID_PATTERN); the default refuses spaces and ids without a digit,
// so that "Nguyễn Văn An" or "Smith" cannot be stored.

/** 2–64 characters of letters, digits, dot, dash or underscore, with at least one digit (e.g. PT-00012345, MRN123456). */
export const DEFAULT_PATIENT_ID_PATTERN = '(?=.*[0-9])[A-Za-z0-9][A-Za-z0-9._-]{1,63}';

/** The whole-id regular expression of a setting; a setting that is not a regular expression stops the start. */
export function patientIdPattern(setting: string | undefined): RegExp {
  const source = setting?.trim() || DEFAULT_PATIENT_ID_PATTERN;
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (e) {
    throw new Error(`CELLBATCH_PATIENT_ID_PATTERN is not a regular expression: ${(e as Error).message}`);
  }
}

/** The reason a patient id does not follow the site's format, or null. */
export function patientIdProblem(id: string, pattern: RegExp): string | null {
  return pattern.test(id) ? null
    : `a patient id is the site's medical record number or pseudonym in the configured format (${pattern.source}), never a name`;
}
