// A lot or equipment picker for a gloved hand and a bar-code scanner: a list of what may be used
// today (touch), and a scan — the scanner types the label's code into the focused list and ends it
// with Enter — that selects the lot or asset it names, or lets the form say at once why not.
import { useRef, type KeyboardEvent, type Ref } from 'react';
import { SelectField } from '../ui/fields';

export function Picker({ onScan, onEnter, ...props }: {
  label: string; hint?: string; error?: string; required?: boolean; autoFocus?: boolean; name?: string;
  value: string; onChange: (v: string) => void; options: { value: string; label: string }[]; placeholder: string;
  inputRef?: Ref<HTMLSelectElement>;
  /** A scanned code (ended by Enter). */
  onScan: (code: string, select: HTMLSelectElement) => void;
  /** Enter with nothing scanned: keep the choice and move on. */
  onEnter: (select: HTMLSelectElement) => void;
}) {
  // Characters typed into the list are a scan, not the list's type-to-select.
  const scanned = useRef('');
  const onKeyDown = (e: KeyboardEvent<HTMLSelectElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      const code = scanned.current;
      scanned.current = '';
      if (code) onScan(code, e.currentTarget);
      else onEnter(e.currentTarget);
    } else if (e.key.length === 1 && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      scanned.current += e.key;
    } else if (e.key === 'Escape') {
      scanned.current = '';
    }
  };
  return <SelectField {...props} onKeyDown={onKeyDown} onBlur={() => { scanned.current = ''; }} />;
}
