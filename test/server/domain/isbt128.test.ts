import { describe, it, expect } from 'vitest';
import {
  MOD37_ALPHABET,
  mod37Value,
  checkCharacter,
  parseDin,
  isValidDin13,
  chainOfIdentityId,
  randomAlnum6,
} from '../../../server/domain/isbt128.js';

// Worked example from the spec: check character H, value 17, so a bar-code
// scan carries flag 60 + 17 = 77.
const DIN = 'G123498654321';

function reasonOf(input: unknown): string {
  const r = parseDin(input);
  if (r.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return r.reason;
}

/** Finds a DIN whose MOD 37-2 check value is 36 (check character '*'). */
function dinWithStarCheck(): string {
  for (let n = 0; n < 1_000_000; n++) {
    const din = 'G12349' + '8' + String(n).padStart(6, '0');
    if (mod37Value(din) === 36) return din;
  }
  throw new Error('no DIN with check value 36 found');
}

describe('ISO/IEC 7064 MOD 37-2 check character', () => {
  it('uses 0–9, A–Z and * for values 0–36', () => {
    expect(MOD37_ALPHABET).toBe('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*');
  });

  it('gives H (value 17) for the worked example G123498654321', () => {
    expect(mod37Value(DIN)).toBe(17);
    expect(checkCharacter(DIN)).toBe('H');
  });

  it('satisfies the standard’s defining congruence Σ aᵢ·2^(i−1) ≡ 1 (mod 37)', () => {
    // Independent of the recursive algorithm: weight each character by 2^(i−1),
    // counting i = 1 at the check character (rightmost).
    for (let n = 0; n < 500; n++) {
      const din = 'W1234' + '25' + String(n * 1999).padStart(6, '0').slice(-6);
      const all = din + checkCharacter(din);
      let sum = 0;
      let weight = 1;
      for (let i = all.length - 1; i >= 0; i--) {
        sum = (sum + MOD37_ALPHABET.indexOf(all[i]) * weight) % 37;
        weight = (weight * 2) % 37;
      }
      expect(sum).toBe(1);
    }
  });

  it('detects every single-character substitution in the worked example', () => {
    for (let i = 1; i < 13; i++) {
      for (const d of '0123456789') {
        if (d === DIN[i]) continue;
        const changed = DIN.slice(0, i) + d + DIN.slice(i + 1);
        expect(checkCharacter(changed)).not.toBe('H');
      }
    }
  });

  it('throws on a malformed DIN rather than computing a meaningless check', () => {
    expect(() => mod37Value('G12349865432')).toThrow(/13 characters/);
    expect(() => checkCharacter('O123498654321')).toThrow(/cannot start/);
  });
});

describe('parseDin — keyed form (DIN + check character)', () => {
  it('accepts the worked example G123498654321H', () => {
    expect(parseDin('G123498654321H')).toEqual({ ok: true, din: DIN, check: 'H', form: 'keyed' });
  });

  it('accepts lower case and normalizes it to upper case', () => {
    expect(parseDin('g123498654321h')).toEqual({ ok: true, din: DIN, check: 'H', form: 'keyed' });
  });

  it('rejects a wrong check character, naming the right one', () => {
    expect(reasonOf('G123498654321J')).toBe("check character is 'H' for DIN G123498654321, not 'J'");
  });

  it("handles the check character '*' (value 36)", () => {
    const din = dinWithStarCheck();
    expect(checkCharacter(din)).toBe('*');
    expect(parseDin(din + '*')).toEqual({ ok: true, din, check: '*', form: 'keyed' });
    expect(reasonOf(din + 'A')).toBe(`check character is '*' for DIN ${din}, not 'A'`);
  });
});

describe('parseDin — bar-code form (=DIN + 2 flags)', () => {
  it('accepts the worked example with flag 77 (60 + check value 17)', () => {
    expect(parseDin('=G12349865432177')).toEqual({ ok: true, din: DIN, check: 'H', form: 'barcode' });
  });

  it('accepts lower case and normalizes it to upper case', () => {
    expect(parseDin('=g1234986543210a')).toEqual({ ok: true, din: DIN, check: 'H', form: 'barcode' });
  });

  it('accepts flags 00–59 without checking them', () => {
    for (let f = 0; f <= 59; f++) {
      const flags = String(f).padStart(2, '0');
      expect(parseDin(`=${DIN}${flags}`), flags).toMatchObject({ ok: true, din: DIN, check: 'H' });
    }
  });

  it('rejects flags 60–96 that are not 60 + the check value', () => {
    for (let f = 60; f <= 96; f++) {
      if (f === 77) continue;
      expect(reasonOf(`=${DIN}${f}`)).toBe(`flag ${f} must be 60 + the check value (77)`);
    }
    expect(reasonOf(`=${DIN}61`)).toBe('flag 61 must be 60 + the check value (77)');
  });

  it('rejects the reserved flags 97, 98 and 99', () => {
    for (const f of ['97', '98', '99']) {
      expect(reasonOf(`=${DIN}${f}`)).toBe(`flag ${f} is not allowed (97–99 are reserved)`);
    }
  });

  it("accepts flag 96 for a DIN whose check character is '*' (60 + 36)", () => {
    const din = dinWithStarCheck();
    expect(parseDin(`=${din}96`)).toEqual({ ok: true, din, check: '*', form: 'barcode' });
  });

  it('accepts alphabetic flags from the ISBT 128 flag alphabet', () => {
    for (const flags of ['AB', 'HJ', 'NP', 'RY', '0A', 'Y9']) {
      expect(parseDin(`=${DIN}${flags}`), flags).toMatchObject({ ok: true, form: 'barcode' });
    }
  });

  it('rejects flags containing I, O, Q or Z, or other symbols', () => {
    for (const flags of ['AI', 'OA', '1Q', 'Z0', '*1', '-A']) {
      expect(reasonOf(`=${DIN}${flags}`)).toMatch(/^flags must be digits or letters/);
    }
  });

  it("does not fold look-alike letters such as 'ſ' (long s) into 'S'", () => {
    expect('ſ'.toUpperCase()).toBe('S');
    expect(reasonOf(`=${DIN}7ſ`)).toMatch(/^flags must be/);
  });

  it('rejects a scan of the wrong length', () => {
    expect(reasonOf(`=${DIN}H`)).toBe(
      'a scanned DIN is 16 characters (= + 13-character DIN + 2 flags), got 15',
    );
  });
});

describe('parseDin — DIN structure', () => {
  it("rejects a DIN starting with the letter 'O' or the digit '0', in both forms", () => {
    for (const first of ['O', 'o', '0']) {
      const din = first + DIN.slice(1);
      expect(reasonOf(din + 'H')).toBe("a DIN cannot start with 'O' or '0'");
      expect(reasonOf(`=${din}00`)).toBe("a DIN cannot start with 'O' or '0'");
    }
  });

  it('rejects a first character that is neither a letter nor a digit', () => {
    expect(reasonOf('#123498654321H')).toMatch(/^a DIN must start with a letter A–Z \(except O\) or a digit 1–9/);
  });

  it('rejects a non-digit in the facility number, year or sequence number', () => {
    expect(reasonOf('G12A498654321H')).toBe(
      "characters 2–5 of the DIN (facility number) must be digits, got '12A4'",
    );
    expect(reasonOf('G12349X654321H')).toBe("characters 6–7 of the DIN (year) must be digits, got '9X'");
    expect(reasonOf('=G1234986543B100')).toBe(
      "characters 8–13 of the DIN (sequence number) must be digits, got '6543B1'",
    );
  });

  it('rejects the wrong length, saying how many characters it got', () => {
    expect(reasonOf('G12349865432')).toBe(
      'expected 14 characters (DIN + check character) or 16 (=DIN + 2 flags), got 12',
    );
    expect(reasonOf(DIN)).toMatch(/got 13$/);
    expect(reasonOf('')).toMatch(/got 0$/);
    expect(reasonOf('G123498654321H7')).toMatch(/got 15$/);
  });

  it("rejects 16 characters that do not start with '='", () => {
    expect(reasonOf('XG12349865432177')).toBe(
      "a 16-character DIN must be a bar-code scan starting with '=', not 'X'",
    );
  });

  it('rejects surrounding or embedded whitespace instead of trimming it', () => {
    for (const input of [' G123498654321H', 'G123498654321H\n', 'G1234 98654321H', '\t=G12349865432177']) {
      expect(reasonOf(input)).toBe('the DIN contains spaces or line breaks; enter it without them');
    }
  });

  it('rejects non-string input without throwing', () => {
    expect(reasonOf(undefined)).toBe('expected the DIN as text, got nothing');
    expect(reasonOf(null)).toBe('expected the DIN as text, got nothing');
    expect(reasonOf(1234)).toBe('expected the DIN as text, got a number');
    expect(reasonOf(['G123498654321H'])).toBe('expected the DIN as text, got a list');
    expect(reasonOf({ din: 'G123498654321H' })).toBe('expected the DIN as text, got an object');
  });
});

describe('isValidDin13', () => {
  it('accepts well-formed 13-character DINs', () => {
    expect(isValidDin13(DIN)).toBe(true);
    expect(isValidDin13('A000000000000')).toBe(true);
    expect(isValidDin13('9999999999999')).toBe(true);
  });

  it('rejects wrong length, a bad first character and non-digits', () => {
    for (const din of ['G12349865432', 'G1234986543210', 'O123498654321', '0123498654321', 'g123498654321', 'G12A498654321', 'G1234X8654321', 'G12349865432Z']) {
      expect(isValidDin13(din), din).toBe(false);
    }
  });
});

describe('Chain of Identity identifier (ISBT 128 data structure 040)', () => {
  const FORMAT = /^&\/CH[A-NP-Z1-9][0-9]{4}[0-9]{2}[A-Z0-9]{6}$/;

  it('is &/CH + FIN + year + the 6-character random part', () => {
    const id = chainOfIdentityId(DIN, 'AB12CD');
    expect(id).toBe('&/CHG123498AB12CD');
    expect(id).toMatch(FORMAT);
  });

  it('matches the format with a generated random part', () => {
    for (let i = 0; i < 100; i++) {
      expect(chainOfIdentityId(DIN, randomAlnum6())).toMatch(FORMAT);
    }
  });

  it('rejects a random part that is not 6 upper-case alphanumerics', () => {
    for (const bad of ['AB12C', 'AB12CDE', 'ab12cd', 'AB-2CD', '']) {
      expect(() => chainOfIdentityId(DIN, bad), bad).toThrow(/6 characters A–Z or 0–9/);
    }
  });

  it('rejects a malformed DIN', () => {
    expect(() => chainOfIdentityId('O123498654321', 'AB12CD')).toThrow(/cannot start/);
  });
});

describe('randomAlnum6', () => {
  it('returns 6 characters from A–Z0–9 and varies between calls', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = randomAlnum6();
      expect(r).toMatch(/^[A-Z0-9]{6}$/);
      seen.add(r);
    }
    expect(seen.size).toBeGreaterThan(190);
  });
});
