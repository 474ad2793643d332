/**
 * ISBT 128 Donation Identification Number (DIN) handling.
 *
 * A DIN is 13 characters `αppppyynnnnnn`:
 *   - `αpppp`  facility identification number (FIN); α is A–N, P–Z or 1–9
 *              (never the letter O or the digit 0, which are easily confused),
 *              `pppp` are digits;
 *   - `yy`     two-digit year;
 *   - `nnnnnn` six-digit sequence number.
 *
 * It reaches us in one of two forms:
 *   - keyed from the eye-readable label: DIN + its ISO/IEC 7064 MOD 37-2 check
 *     character (14 characters);
 *   - scanned from the bar code: `=` + DIN + 2 flag characters (16 characters).
 *     The bar code does not carry the check character, but flags 60–96 encode
 *     it as 60 + check value, so we verify those.
 *
 * Input is never trimmed: a stray space or line break means the entry is not
 * what the technician thinks it is, so it is rejected rather than repaired.
 */
import { randomInt } from 'node:crypto';

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** ISO/IEC 7064 MOD 37-2 character set: the index of a character is its value. */
export const MOD37_ALPHABET = ALPHANUMERIC + '*';

const MODULUS = 37;

/**
 * ISBT 128 flag alphabet for non-numeric flags: letters I, O, Q and Z are
 * excluded because they are easily misread as 1, 0 and 2.
 */
const FLAG_ALPHABET = /^[0-9A-HJ-NPR-Y]{2}$/;

/** ISBT 128 reserves flag values 97–99; they must never appear on a label. */
const FIRST_RESERVED_FLAG = 97;
/** Flags 60–96 carry the check value: flag = 60 + MOD 37-2 value. */
const FIRST_CHECK_FLAG = 60;

export type DinParse =
  | { ok: true; din: string; check: string; form: 'keyed' | 'barcode' }
  | { ok: false; reason: string };

/**
 * Explains what is structurally wrong with a 13-character DIN, or returns
 * null when it is well formed. Shared by isValidDin13 (yes/no) and parseDin
 * (which needs a sentence for the technician).
 */
function din13Problem(din: string): string | null {
  if (din.length !== 13) {
    return `a DIN is 13 characters, got ${din.length}`;
  }
  const first = din[0];
  if (first === 'O' || first === '0') {
    return "a DIN cannot start with 'O' or '0'";
  }
  if (!/^[A-NP-Z1-9]$/.test(first)) {
    return `a DIN must start with a letter A–Z (except O) or a digit 1–9, not '${first}'`;
  }
  const facility = din.slice(1, 5);
  if (!/^[0-9]{4}$/.test(facility)) {
    return `characters 2–5 of the DIN (facility number) must be digits, got '${facility}'`;
  }
  const year = din.slice(5, 7);
  if (!/^[0-9]{2}$/.test(year)) {
    return `characters 6–7 of the DIN (year) must be digits, got '${year}'`;
  }
  const sequence = din.slice(7, 13);
  if (!/^[0-9]{6}$/.test(sequence)) {
    return `characters 8–13 of the DIN (sequence number) must be digits, got '${sequence}'`;
  }
  return null;
}

/**
 * Structural check of a 13-character DIN in canonical (upper-case) form:
 * length, first-character rule and digit positions. Does not involve the
 * check character.
 */
export function isValidDin13(din: string): boolean {
  return typeof din === 'string' && din13Problem(din) === null;
}

function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * Throws on a malformed DIN. Used where a bad DIN is a programming error
 * (callers are expected to validate first, as parseDin does), so failing loud
 * beats computing a check value or identifier from garbage.
 */
function assertDin13(din: unknown, caller: string): void {
  const problem =
    typeof din === 'string' ? din13Problem(din) : `expected the DIN as text, got ${describeType(din)}`;
  if (problem !== null) {
    throw new Error(`${caller}: ${problem}`);
  }
}

/**
 * ISO/IEC 7064 MOD 37-2 check value (0–36) of a 13-character DIN.
 * Throws on a malformed DIN.
 */
export function mod37Value(din13: string): number {
  assertDin13(din13, 'mod37Value');
  // ISO/IEC 7064 pure system, recursive form with radix 2: the check value is
  // chosen so that Σ aᵢ·2^(i−1) ≡ 1 (mod 37), counting i = 1 at the check
  // character. Every DIN character is 0–9/A–Z, so indexOf is never −1 here.
  let p = 0;
  for (const c of din13) {
    p = ((p + MOD37_ALPHABET.indexOf(c)) * 2) % MODULUS;
  }
  return (MODULUS + 1 - p) % MODULUS;
}

/** ISO/IEC 7064 MOD 37-2 check character of a 13-character DIN (0–9, A–Z or '*'). */
export function checkCharacter(din13: string): string {
  return MOD37_ALPHABET[mod37Value(din13)];
}

/**
 * Parses a DIN as keyed from the label (14 characters) or scanned from the
 * bar code (16 characters). Never throws; on failure `reason` is a sentence
 * a lab technician can act on.
 */
export function parseDin(input: unknown): DinParse {
  if (typeof input !== 'string') {
    return { ok: false, reason: `expected the DIN as text, got ${describeType(input)}` };
  }
  if (/\s/.test(input)) {
    return { ok: false, reason: 'the DIN contains spaces or line breaks; enter it without them' };
  }
  // Only ASCII a–z is folded: String#toUpperCase would also turn look-alikes
  // such as 'ſ' (long s) into 'S' or 'ß' into 'SS', silently accepting
  // characters that are not on any ISBT 128 label.
  const s = input.replace(/[a-z]/g, (c) => c.toUpperCase());

  if (s.startsWith('=')) {
    if (s.length !== 16) {
      return {
        ok: false,
        reason: `a scanned DIN is 16 characters (= + 13-character DIN + 2 flags), got ${s.length}`,
      };
    }
    return parseBarcode(s);
  }
  if (s.length === 14) {
    return parseKeyed(s);
  }
  if (s.length === 16) {
    return {
      ok: false,
      reason: `a 16-character DIN must be a bar-code scan starting with '=', not '${s[0]}'`,
    };
  }
  return {
    ok: false,
    reason: `expected 14 characters (DIN + check character) or 16 (=DIN + 2 flags), got ${s.length}`,
  };
}

function parseKeyed(s: string): DinParse {
  const din = s.slice(0, 13);
  const problem = din13Problem(din);
  if (problem !== null) {
    return { ok: false, reason: problem };
  }
  const check = checkCharacter(din);
  const given = s[13];
  if (given !== check) {
    return { ok: false, reason: `check character is '${check}' for DIN ${din}, not '${given}'` };
  }
  return { ok: true, din, check, form: 'keyed' };
}

function parseBarcode(s: string): DinParse {
  const din = s.slice(1, 14);
  const problem = din13Problem(din);
  if (problem !== null) {
    return { ok: false, reason: problem };
  }
  const value = mod37Value(din);
  const check = MOD37_ALPHABET[value];
  const flags = s.slice(14, 16);

  if (/^[0-9]{2}$/.test(flags)) {
    const flag = Number(flags);
    if (flag >= FIRST_RESERVED_FLAG) {
      return { ok: false, reason: `flag ${flags} is not allowed (97–99 are reserved)` };
    }
    if (flag >= FIRST_CHECK_FLAG && flag !== FIRST_CHECK_FLAG + value) {
      return {
        ok: false,
        reason: `flag ${flags} must be 60 + the check value (${FIRST_CHECK_FLAG + value})`,
      };
    }
    // 00–59: container identification / local use; nothing to verify.
  } else if (!FLAG_ALPHABET.test(flags)) {
    return {
      ok: false,
      reason: `flags must be digits or letters A–H, J–N, P, R–Y (I, O, Q and Z are not used), got '${flags}'`,
    };
  }
  return { ok: true, din, check, form: 'barcode' };
}

/**
 * Chain of Identity identifier, ISBT 128 data structure 040:
 * `&/CH` + FIN (5) + year (2) + 6 upper-case alphanumerics. The FIN and year
 * come from the donation's DIN so the identifier stays traceable to it.
 */
export function chainOfIdentityId(din13: string, random6: string): string {
  assertDin13(din13, 'chainOfIdentityId');
  if (typeof random6 !== 'string' || !/^[A-Z0-9]{6}$/.test(random6)) {
    throw new Error(
      `chainOfIdentityId: the random part must be 6 characters A–Z or 0–9, got '${String(random6)}'`,
    );
  }
  return '&/CH' + din13.slice(0, 5) + din13.slice(5, 7) + random6;
}

/**
 * Six characters drawn uniformly from A–Z0–9 with node:crypto, which (unlike
 * Math.random) is unpredictable, so identifiers cannot be guessed.
 */
export function randomAlnum6(): string {
  let out = '';
  for (let i = 0; i < 6; i++) {
    out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  }
  return out;
}
