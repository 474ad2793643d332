// ONE compiler turns any process definition into an xstate v5 machine. The machine is pure: the
// state of a batch is the fold of its recorded entries, and `snapshot.can(event)` decides what the
// process allows next. The service never keeps a second copy of the step order.
import { setup, assign, createActor, type SnapshotFrom } from 'xstate';
import { allSteps, type ProcessDefinition, type Step } from './definition.js';

export type BatchStatus = 'in_process' | 'qc_testing' | 'qa_review' | 'released' | 'rejected' | 'terminated';

export interface BatchContext {
  /** Occurrences recorded per step. */
  recorded: Record<string, number>;
  /** Entries awaiting their second-person verification: entry id → step id. */
  pending: Record<string, string>;
  /** Required occurrences of steps whose count a recorded value decides (e.g. one fill per bag). */
  counts: Record<string, number>;
  /** Steps of alternative routes, decided by a recorded choice: true when the route was not taken. */
  skipped: Record<string, boolean>;
}

export type BatchEvent =
  | { type: `step.${string}`; entryId: string; values: Record<string, unknown> }
  | { type: 'verify'; entryId: string }
  | { type: 'correct'; entryId: string; correctsEntryId: string; stepId: string; needsVerification: boolean; values: Record<string, unknown> }
  | { type: 'terminate' }
  | { type: 'dispose.release' }
  | { type: 'dispose.reject' };

interface StepParams { stepId: string; after: string[]; repeatable: boolean; until?: string }
interface Route { stepId: string; field: string; equals: string | boolean }
interface RecordParams { stepId: string; needsVerification: boolean; countsFor: { stepId: string; field: string }[]; decides: Route[] }

/**
 * A step counts as done for the steps after it once its required occurrences are in and none awaits
 * verification, or when it belongs to a route that was not taken.
 */
export function isSatisfied(context: BatchContext, stepId: string): boolean {
  if (context.skipped[stepId]) return true;
  return (context.recorded[stepId] ?? 0) >= (context.counts[stepId] ?? 1) && !Object.values(context.pending).includes(stepId);
}

/** The routes a step's values decide: for each step whose `when` names a field sent, whether it is skipped. */
function decide(routes: Route[], values: Record<string, unknown>, skipped: Record<string, boolean>, onlySent: boolean) {
  const out = { ...skipped };
  for (const r of routes) if (!onlySent || r.field in values) out[r.stepId] = values[r.field] !== r.equals;
  return out;
}

export const stepEvent = (stepId: string) => `step.${stepId}` as const;
export const needsVerification = (step: Step) => step.signatures.some((s) => s.meaning === 'verified');

export function compileProcess(def: ProcessDefinition) {
  const steps = allSteps(def);
  const countsFor = (stepId: string) =>
    steps.flatMap((s) =>
      s.occurrences && 'countFrom' in s.occurrences && s.occurrences.countFrom.step === stepId && s.occurrences.countFrom.field
        ? [{ stepId: s.id, field: s.occurrences.countFrom.field }]
        : [],
    );
  const decidedBy = (stepId: string): Route[] =>
    steps.flatMap((s) => (s.when?.step === stepId ? [{ stepId: s.id, field: s.when.field, equals: s.when.equals }] : []));
  const stepTransitions = (selected: Step[]) =>
    Object.fromEntries(
      selected.map((s) => [
        stepEvent(s.id),
        {
          guard: { type: 'stepReady' as const, params: { stepId: s.id, after: s.after, repeatable: s.repeatable, ...(s.until && { until: s.until }) } },
          actions: { type: 'recordStep' as const, params: { stepId: s.id, needsVerification: needsVerification(s), countsFor: countsFor(s.id), decides: decidedBy(s.id) } },
        },
      ]),
    );
  const required = (stage: Step['stage']) =>
    steps.filter((s) => s.stage === stage && s.required && !(stage === 'release' && s.mayFollowRelease)).map((s) => s.id);
  const process = steps.filter((s) => s.stage === 'process');
  const release = steps.filter((s) => s.stage === 'release');
  const followers = release.filter((s) => s.mayFollowRelease);
  // Custody steps of a released batch: thaw, dose issue, per-dose QC, administrations.
  const afterRelease = steps.filter((s) => s.stage === 'after-release');
  const recordKeeping = {
    verify: { guard: 'isPending' as const, actions: 'markVerified' as const },
    correct: { actions: 'markCorrected' as const },
  };

  return setup({
    types: { context: {} as BatchContext, events: {} as BatchEvent },
    guards: {
      stepReady: ({ context }, p: StepParams) =>
        !context.skipped[p.stepId] && (p.repeatable || !context.recorded[p.stepId]) && !(p.until && context.recorded[p.until]) &&
        p.after.every((d) => isSatisfied(context, d)),
      stageComplete: ({ context }, p: { steps: string[] }) => p.steps.every((id) => isSatisfied(context, id)),
      isPending: ({ context, event }) => event.type === 'verify' && event.entryId in context.pending,
    },
    actions: {
      recordStep: assign(({ context, event }, p: RecordParams) => {
        const entryId = 'entryId' in event ? event.entryId : '';
        const values = 'values' in event ? event.values : {};
        const counts = { ...context.counts };
        for (const c of p.countsFor) if (typeof values[c.field] === 'number') counts[c.stepId] = values[c.field] as number;
        return {
          recorded: { ...context.recorded, [p.stepId]: (context.recorded[p.stepId] ?? 0) + 1 },
          pending: p.needsVerification ? { ...context.pending, [entryId]: p.stepId } : context.pending,
          counts,
          skipped: p.decides.length ? decide(p.decides, values, context.skipped, false) : context.skipped,
        };
      }),
      markVerified: assign(({ context, event }) => {
        if (event.type !== 'verify') return {};
        const { [event.entryId]: _, ...pending } = context.pending;
        return { pending };
      }),
      markCorrected: assign(({ context, event }) => {
        if (event.type !== 'correct') return {};
        // A corrected count (e.g. the number of bags) changes how many occurrences are due.
        const counts = { ...context.counts };
        for (const c of countsFor(event.stepId)) if (typeof event.values[c.field] === 'number') counts[c.stepId] = event.values[c.field] as number;
        // A corrected route choice re-decides the steps of the routes not yet recorded.
        const skipped = decide(decidedBy(event.stepId), event.values, context.skipped, true);
        return { counts, skipped, ...(event.needsVerification && { pending: { ...context.pending, [event.entryId]: event.stepId } }) };
      }),
    },
  }).createMachine({
    id: def.id,
    context: { recorded: {}, pending: {}, counts: {}, skipped: {} },
    initial: 'in_process',
    states: {
      in_process: {
        always: { target: 'qc_testing', guard: { type: 'stageComplete', params: { steps: required('process') } } },
        on: { ...stepTransitions(process), ...recordKeeping, terminate: 'terminated', 'dispose.reject': 'rejected' },
      },
      qc_testing: {
        always: { target: 'qa_review', guard: { type: 'stageComplete', params: { steps: required('release') } } },
        on: { ...stepTransitions(release), ...recordKeeping, terminate: 'terminated', 'dispose.reject': 'rejected' },
      },
      qa_review: {
        on: { ...stepTransitions(followers), ...recordKeeping, 'dispose.release': 'released', 'dispose.reject': 'rejected', terminate: 'terminated' },
      },
      // Not final: results that follow release (sterility culture) are still recorded on a released batch.
      released: { on: { ...stepTransitions([...followers, ...afterRelease]), ...recordKeeping } },
      rejected: { type: 'final' },
      terminated: { type: 'final' },
    },
  });
}

export type BatchMachine = ReturnType<typeof compileProcess>;
export type BatchSnapshot = SnapshotFrom<BatchMachine>;

/** Folds events through the machine; pure. Throws if an event was not allowed (a corrupt record). */
export function foldEvents(machine: BatchMachine, events: BatchEvent[], from?: BatchSnapshot): BatchSnapshot {
  // One actor for the whole fold: xstate's pure transition() builds a new actor scope, and with it the
  // machine's initial state, on every call. The machine's actions are all assign(), so an actor
  // computes exactly the snapshots transition() would. `from`: continue from a snapshot this fold
  // gave before (a write's new entries folded onto its record) instead of the initial state.
  const actor = createActor(machine, ...(from ? [{ snapshot: from }] : [])).start();
  try {
    for (const event of events) {
      const snapshot = actor.getSnapshot();
      if (!snapshot.can(event)) throw new Error(`recorded event ${event.type} is not allowed in state ${String(snapshot.value)}`);
      actor.send(event);
    }
    return actor.getSnapshot();
  } finally {
    actor.stop();
  }
}

export const statusOf = (snapshot: BatchSnapshot) => snapshot.value as BatchStatus;
