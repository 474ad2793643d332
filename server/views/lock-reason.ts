// Why a step is not offered now, in words a technician understands: the terminal's lockedSteps and
// the detail of a 409 when a step is refused say the same thing.
import { isSatisfied } from '../../workflows/compile.js';
import type { Step } from '../../workflows/definition.js';
import { findStep, statusOfRecord, type BatchRecord } from '../record/record.js';
import { t, type Lang } from './text.js';

export function lockReason(r: BatchRecord, step: Step, lang: Lang): string | null {
  const status = statusOfRecord(r);
  const ctx = r.snapshot.context;
  const title = (id: string) => { const s = findStep(r, id); return s ? t(s.title, lang) : id; };
  const vi = lang === 'vi';
  if (status === 'terminated' || status === 'rejected') return vi ? `Lô đã ${status === 'terminated' ? 'bị chấm dứt' : 'bị loại'}: không còn bước nào.` : `The batch is ${status}: no further steps are allowed.`;
  if (!step.repeatable && ctx.recorded[step.id]) return null; // done, not locked
  if (ctx.skipped[step.id]) return vi ? 'Không áp dụng: lô đi theo một quy trình thay thế khác.' : 'Does not apply: the batch took another route.';
  if (step.until && ctx.recorded[step.until]) return vi ? `Đã kết thúc khi bước «${title(step.until)}» được ghi nhận.` : `Ended when "${title(step.until)}" was recorded.`;
  if (step.stage === 'after-release' && status !== 'released') return vi ? 'Được ghi sau khi lô được xuất xưởng.' : 'Recorded once the batch is released.';
  if (step.stage === 'release' && status === 'in_process') {
    return vi ? 'Kiểm nghiệm xuất xưởng bắt đầu khi mọi bước sản xuất đã được ghi và xác minh.' : 'Release testing opens once every manufacturing step is recorded and verified.';
  }
  if (step.stage === 'process' && status !== 'in_process') return null; // manufacturing is over: nothing to wait for
  if (step.stage === 'release' && (status === 'qa_review' || status === 'released') && !step.mayFollowRelease) return null;
  for (const d of step.after) {
    if (isSatisfied(ctx, d)) continue;
    const done = ctx.recorded[d] ?? 0;
    const due = ctx.counts[d] ?? 1;
    if (done === 0) return vi ? `Chờ bước «${title(d)}» được ghi nhận.` : `Waiting for "${title(d)}" to be recorded.`;
    if (done < due) return vi ? `Chờ bước «${title(d)}»: đã ghi ${done}/${due}.` : `Waiting for "${title(d)}": ${done} of ${due} recorded.`;
    return vi ? `Chờ người thứ hai xác minh bước «${title(d)}».` : `Waiting for a second person to verify "${title(d)}".`;
  }
  return vi ? 'Quy trình chưa cho phép bước này.' : 'The process does not allow this step now.';
}
