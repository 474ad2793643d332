import type { ApiError } from '../api/client';

/** The API's refusal in its own words (problem details), announced to screen readers. */
export function ProblemMessage({ error }: { error: ApiError | null | undefined }) {
  if (!error) return null;
  return (
    <div role="alert" className="problem">
      <strong>{error.problem.title}</strong>{error.problem.detail && error.problem.detail !== error.problem.title ? `: ${error.problem.detail}` : ''}
    </div>
  );
}
