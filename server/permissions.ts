// WHO MAY DO WHAT: the one table of role-based permissions (21 CFR 11.10(d), (g): authority checks).
// Routes, commands and services ask `assertMay(user, action)`; the role × route test and the web UI
// read the same table (it is plain data). Whether a user may sign a step, and with which meaning, is
// said by the step itself in its process definition (signatures[].roles), not here.
import { forbidden } from './errors.js';
import type { Role } from '../workflows/definition.js';

export interface Permission { roles: readonly Role[]; what: string }

export const PERMISSIONS = {
  'batch.create': { roles: ['operator', 'supervisor'], what: 'starting a batch' },
  // The same roles sign the termination ("approved").
  'batch.terminate': { roles: ['supervisor', 'qa'], what: 'terminating a batch' },
  'batch.review': { roles: ['qa'], what: 'signing the review of a batch record' },
  'batch.dispose': { roles: ['qa'], what: 'the disposition of a batch' },
  // The review lists the batch's audit rows: the readers of the audit trail read it.
  'batch.review.read': { roles: ['qa', 'inspector', 'admin'], what: 'reading the review of a batch' },
  // Whoever works on batches reports a deviation; QA investigates, reclassifies and closes it (C3).
  'deviation.open': { roles: ['operator', 'supervisor', 'qc', 'qa'], what: 'opening a deviation' },
  'deviation.investigate': { roles: ['qa'], what: 'recording the investigation of a deviation' },
  'deviation.reclassify': { roles: ['qa'], what: 'changing the severity of a deviation' },
  'deviation.close': { roles: ['qa'], what: 'closing a deviation' },
  'material.register': { roles: ['supervisor', 'qa'], what: 'registering a material lot' },
  // 21 CFR 211.22, 211.84: production does not release its own materials.
  'material.release': { roles: ['qa'], what: 'releasing a lot or changing its status' },
  'equipment.register': { roles: ['supervisor', 'qa'], what: 'registering equipment' },
  'equipment.calibrate': { roles: ['supervisor', 'qa'], what: 'recording a calibration' },
  'audit.read': { roles: ['qa', 'inspector', 'admin'], what: 'reading the audit trail' },
  // The export and the PDF hold the batch's audit trail: those who read the audit (API.md).
  'record.export': { roles: ['qa', 'inspector', 'admin'], what: 'exporting the batch record' },
  // A record that fails verification is QA's to investigate, a lockout the administrator's: both read alerts, and a clock that went back stops every write.
  'alerts.read': { roles: ['admin', 'qa'], what: 'reading alerts' },
  'users.read': { roles: ['admin', 'qa', 'inspector'], what: 'reading the user list' },
  'users.manage': { roles: ['admin'], what: 'managing user accounts' },
  'training.clock': { roles: ['admin', 'supervisor'], what: 'moving the training clock' },
  // Master batch records (21 CFR 211.186, Annex 11 §10): a process engineer (supervisor) or QA writes
  // and reviews a version; only QA approves it, puts it into effect or withdraws it. The signer of each
  // transition must hold the same role (server/commands/transition-process-version.ts).
  'process.author': { roles: ['supervisor', 'qa'], what: 'writing a process version' },
  'process.review': { roles: ['supervisor', 'qa'], what: 'reviewing a process version' },
  'process.approve': { roles: ['qa'], what: 'approving, putting into effect or withdrawing a process version' },
  // The command line's backup and restore (server/store/backup.ts): run by a named person.
  'database.backup': { roles: ['admin', 'qa'], what: 'backing up or restoring the database' },
} as const satisfies Record<string, Permission>;

export type Action = keyof typeof PERMISSIONS;

export function may(user: { roles: readonly string[] }, action: Action): boolean {
  const roles: readonly string[] = PERMISSIONS[action].roles;
  return user.roles.some((r) => roles.includes(r));
}

/** 403 `role-not-allowed` unless the user holds one of the action's roles. */
export function assertMay(user: { roles: readonly string[] }, action: Action, what: string = PERMISSIONS[action].what) {
  if (!may(user, action)) throw forbidden('role-not-allowed', `${what} needs one of: ${PERMISSIONS[action].roles.join(', ')}`);
}
