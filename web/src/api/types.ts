// The shapes the UI reads, every one derived from the generated schema.d.ts (`npm run web:types`,
// from the server's own OpenAPI description): nothing here is written by hand, so a shape change in
// the API breaks `tsc -p web`, not a user (test/web/api-types.test.ts proves it).
import type { components, paths } from './schema';

type Schemas = components['schemas'];
type Json<Op> = Op extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;

export type Problem = Schemas['Problem'];
export type User = Schemas['User'];
export type Role = User['roles'][number];
export type Session = Schemas['Session'];
export type Site = Schemas['Site'];
export type Spec = Schemas['Spec'];
export type Field = Schemas['StepField'];
export type AvailableStep = Schemas['AvailableStep'];
export type StoredSignature = Schemas['StoredSignature'];
export type Entry = Schemas['Entry'];
export type BatchStatus = Schemas['BatchStatus'];
export type Batch = Schemas['Batch'];
/** A batch in a list (GET /batches) or after a change that does not answer its entries. */
export type BatchSummary = Schemas['BatchSummary'];
export type Deviation = Schemas['Deviation'];
export type DeviationDetail = Schemas['DeviationDetail'];
export type Material = Schemas['Lot'];
/** An alert for QA and the administrator: a lockout, a record that failed verification, a clock that went back. */
export type Alert = Schemas['AlertList']['items'][number];
export type Equipment = Schemas['Equipment'];
export type PendingItem = Schemas['PendingItem'];
export type Review = Schemas['Review'];
export type ReviewException = Schemas['ReviewException'];
export type ProcessSummary = Schemas['ProcessSummary'];
/** A process definition as GET /processes/{id} gives it: texts in both languages. */
export type ProcessDefinition = Json<paths["/api/v1/processes/{id}"]['get']>;
export type DefinitionStep = ProcessDefinition['phases'][number]['steps'][number];
/** The UI's own languages (its catalogues), which are also the API's. */
export type Lang = keyof ProcessDefinition['title'];
