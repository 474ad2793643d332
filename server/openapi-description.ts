// The prose of the OpenAPI description: the choices this implementation made where API.md leaves room.
export const API_DESCRIPTION = `Electronic batch record for autologous CAR-T and NK cell manufacturing.

All paths but /healthz, /openapi.json and /docs are under /api/v1 and need \`Authorization: Bearer <token>\` from POST /api/v1/auth/login.
Errors are application/problem+json {type, title, status, detail, errors?: [{field, message}]}.

Choices where the contract leaves room:
- Unknown processId in POST /batches is 404 (an unknown id), after the body shape is checked.
- A step's route role is checked against the session user (any role listed in the step's signatures, else 403); the signature's role, lockout and separation of duties against the signer.
- Verification entries are not listed on their own in a batch's \`entries\`: the verifier's signature (meaning "verified") appears on the entry it verifies, and \`verified\` turns true. The per-batch \`seq\` of entries therefore has gaps where verifications were recorded.
- Deviation entries (kind "deviation") carry no stepId at the top level; their details are in \`deviation\` and at GET /batches/{id}/deviations.
- A correction answers {entry: the correction entry, batch}; a correction of a correction is refused (409): correct the original step entry.
- Lots and equipment that are unknown, of the wrong type, quarantined, expired or out of calibration: 422 with the field named. A malformed DIN in an identity field is 400; a well-formed DIN or label that does not match the batch is 422 (audited).
- Titles and labels are English by default; ?lang=vi or Accept-Language: vi gives Vietnamese.
- Batch numbers are CART-YYYY-NNNNN / NK-YYYY-NNNNN, prefixed TRN- in training mode.
- Browser sessions: login also sets an httpOnly SameSite=Strict cookie \`cellbatch_session\` and returns \`csrfToken\`; a cookie-authenticated request that changes anything must send it in \`x-csrf-token\` (403 csrf-token-missing / csrf-token-invalid). Bearer clients need no CSRF token. GET /auth/csrf gives a fresh token.
- Every refused write by a logged-in user writes exactly one audit row (action attempt.refused, or the more specific signature.failed, step.refused, identity.mismatch, signature.refused, login.failed).
- Passwords: at least 12 characters, not the username, none of the last 5; they expire after 180 days (CELLBATCH_PASSWORD_DAYS) and must then be changed like a temporary one. POST /users/{id}/password (admin, with a reason) sets a temporary password and ends the user's sessions.
- The chain heads are signed (Ed25519) into a checkpoint log beside the database every 1000 rows and at shutdown; GET /audit/keys gives the public key; GET /audit/verify checks rows against the checkpoints and reports \`firstInvalid: {table, seq, reason, kind}\` (kind "row": pinned on one row; "chain": a stretch was removed, reordered or rewritten). A Batch carries \`integrity\` (false when its own rows fail, or when the record fails in a way no row can be pinned on). Each row's hash is the SHA-256 of the JSON array of the previous row's hash and the row's stored columns in table order (rows written before migration 0003 keep their earlier form); GET /audit/verify hashes in worker threads and does not hold up other requests.
- GET /alerts (admin): account lockouts. GET /reports/periodic-review?from&to: users, roles, last logins, privilege changes and lockouts in a period (Annex 11 §11). GET /audit/export?format=csv|json streams the filtered trail (audited).
- The administrator signs nothing (21 CFR 11.10(g)): roles combining admin with operator, supervisor, qc or qa are 400 on roles (POST /users, PATCH /users/{id}); changing one's own roles is 403 (self-role-change); an account holding admin is refused in any signature (403 admin-signs-nothing, audited as signature.refused). The first account is a named person (CELLBATCH_ADMIN_NAME; username CELLBATCH_ADMIN_USERNAME, default admin).
- Audit rows (GET /audit, GET /batches/{id}/audit, GET /audit/export) carry username and printedName beside userId. Each deviation opened is its own deviation.opened row.
- Material release (21 CFR 211.22, 211.84): POST /materials without status, or by anyone without the qa role, registers the lot quarantined; a non-QA user sending status "released" is 403. QA registers a lot released, or releases it later with PATCH /materials/{id} {status, reason} (audited as material.status-changed).
- PATCH /equipment/{id} {calibrationDueOn, reason} records a new calibration (supervisor, qa).
- Fields carry extra keys beyond API.md where the definition has them: alert (alert limits), limits (physically possible values, outside them 400), decimals.
`;
