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
- Fields carry extra keys beyond API.md where the definition has them: alert (alert limits), limits (physically possible values, outside them 400), decimals.
`;
