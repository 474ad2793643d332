// Labelled inputs: every input has a visible label, a hint for units and ranges, and the message of
// the API's problem details for that field right beside it.
import { useId, type ReactNode, type KeyboardEvent, type Ref } from 'react';

interface Common {
  label: string;
  hint?: ReactNode;
  error?: string;
  warning?: string;
  required?: boolean;
  autoFocus?: boolean;
}

export function FieldFrame({ id, label, hint, error, warning, children }: Common & { id: string; children: ReactNode }) {
  return (
    <div className={`field${error ? ' has-error' : ''}${warning ? ' has-warning' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <div className="hint" id={`${id}-hint`}>{hint}</div>}
      {warning && <div className="warning" id={`${id}-warning`} role="status">{warning}</div>}
      {error && <div className="error" id={`${id}-error`} role="alert">{error}</div>}
    </div>
  );
}

const describedBy = (id: string, c: Common) => [c.hint && `${id}-hint`, c.warning && `${id}-warning`, c.error && `${id}-error`].filter(Boolean).join(' ') || undefined;

export function TextField(props: Common & {
  value: string; onChange: (v: string) => void; type?: string; autoComplete?: string; inputMode?: 'decimal' | 'numeric' | 'text';
  suffix?: string; onKeyDown?: (e: KeyboardEvent<HTMLInputElement>) => void; onBlur?: () => void; inputRef?: Ref<HTMLInputElement>; name?: string;
}) {
  const id = useId();
  return (
    <FieldFrame id={id} {...props}>
      <div className="input-row">
        <input id={id} ref={props.inputRef} name={props.name} type={props.type ?? 'text'} value={props.value} autoComplete={props.autoComplete ?? 'off'}
          inputMode={props.inputMode} required={props.required} autoFocus={props.autoFocus} data-autofocus={props.autoFocus || undefined}
          aria-invalid={props.error ? true : undefined} aria-describedby={describedBy(id, props)}
          onChange={(e) => props.onChange(e.target.value)} onKeyDown={props.onKeyDown} onBlur={props.onBlur} />
        {props.suffix && <span className="suffix" aria-hidden="true">{props.suffix}</span>}
      </div>
    </FieldFrame>
  );
}

export function SelectField(props: Common & {
  value: string; onChange: (v: string) => void; options: { value: string; label: string }[]; placeholder: string;
  onKeyDown?: (e: KeyboardEvent<HTMLSelectElement>) => void; onBlur?: () => void; inputRef?: Ref<HTMLSelectElement>; name?: string;
}) {
  const id = useId();
  return (
    <FieldFrame id={id} {...props}>
      <select id={id} ref={props.inputRef} name={props.name} value={props.value} required={props.required} autoFocus={props.autoFocus} data-autofocus={props.autoFocus || undefined}
        aria-invalid={props.error ? true : undefined} aria-describedby={describedBy(id, props)}
        onChange={(e) => props.onChange(e.target.value)} onKeyDown={props.onKeyDown} onBlur={props.onBlur}>
        <option value="">{props.placeholder}</option>
        {props.options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
    </FieldFrame>
  );
}

export function TextArea(props: Common & { value: string; onChange: (v: string) => void }) {
  const id = useId();
  return (
    <FieldFrame id={id} {...props}>
      <textarea id={id} value={props.value} required={props.required} autoFocus={props.autoFocus} data-autofocus={props.autoFocus || undefined} rows={3}
        aria-invalid={props.error ? true : undefined} aria-describedby={describedBy(id, props)}
        onChange={(e) => props.onChange(e.target.value)} />
    </FieldFrame>
  );
}
