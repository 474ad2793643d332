// The shape every register page shares (material lots, equipment, users): a table of what is
// registered with the actions on each row, and beside it the form of the action chosen (with its
// reason) above the form that registers a new one. The pages say only their columns, fields and calls.
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { useI18n } from '../app/i18n';
import { ProblemMessage } from '../ui/ProblemMessage';

export interface Column<T> {
  header: string;
  cell: (item: T) => ReactNode;
  /** e.g. 'overdue' for a date past. */
  className?: (item: T) => string | undefined;
}

/** The items of a register, read at once and again after each change (`load`). */
export function useRegister<T>(fetchItems: () => Promise<T[]>) {
  const [items, setItems] = useState<T[]>([]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const load = useCallback(async () => setItems(await fetchItems()), []);
  useEffect(() => { void load(); }, [load]);
  return { items, load };
}

/**
 * The register form's values, sent by `send`; on success the fields not in `keep` are emptied (the
 * next lot is often of the same type) and `then` runs; a refusal is shown beside the field it names.
 */
export function useRegisterForm<F extends Record<string, string>>(initial: F, send: (form: F) => Promise<unknown>, { keep = [], then }: { keep?: (keyof F)[]; then: () => Promise<void> }) {
  const [form, setForm] = useState(initial);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await send(form);
      setForm({ ...initial, ...Object.fromEntries(keep.map((k) => [k, form[k]])) });
      setError(null);
      await then();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  const field = (k: keyof F & string) => ({ value: form[k], onChange: (v: string) => setForm({ ...form, [k]: v }), error: error?.fieldMessage(k) });
  return { form, error, submit, field };
}

export function RegisterForm({ id, title, submitLabel, error, onSubmit, children }: {
  id: string; title: string; submitLabel: string; error: ApiError | null; onSubmit: (e: FormEvent) => void; children: ReactNode;
}) {
  return (
    <form onSubmit={onSubmit} className="stack card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
      <ProblemMessage error={error} />
      <button type="submit" className="primary">{submitLabel}</button>
    </form>
  );
}

export function AdminList<T extends { id: string }>({ id, title, items, columns, actions, above, side }: {
  id: string; title: string; items: T[]; columns: Column<T>[];
  /** The buttons of a row, if any. */
  actions?: (item: T) => ReactNode;
  /** Shown between the title and the table (e.g. open alerts). */
  above?: ReactNode;
  /** The action form and the register form. */
  side: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <section aria-labelledby={id}>
      <h1 id={id}>{title}</h1>
      {above}
      <div className="columns wide-left">
        <div className="card">
          <table>
            <thead><tr>{columns.map((c) => <th key={c.header}>{c.header}</th>)}{actions && <th>{t('common.actions')}</th>}</tr></thead>
            <tbody>
              {items.map((x) => (
                <tr key={x.id}>
                  {columns.map((c) => <td key={c.header} className={c.className?.(x)}>{c.cell(x)}</td>)}
                  {actions && <td><div className="row">{actions(x)}</div></td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="side">{side}</div>
      </div>
    </section>
  );
}
