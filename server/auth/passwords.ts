// Password hashing: argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
import argon2 from 'argon2';

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => argon2.hash(password, OPTIONS);

let dummy: Promise<string> | undefined;
/** A hash of nothing anyone knows: an unknown username is checked against it, at a real argon2 cost. */
export const dummyHash = () => (dummy ??= hashPassword(`no-such-user-${Math.random()}`));

export async function checkPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** 21 CFR 11.300 password policy; returns what is wrong, in words, or null. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < 12) return 'the password must be at least 12 characters long';
  if (password.length > 256) return 'the password must be at most 256 characters long';
  if (password.toLowerCase() === username.toLowerCase()) return 'the password must not be the username';
  return null;
}
