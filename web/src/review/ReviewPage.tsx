export function ReviewPage({ id }: { id: string }) {
  return <p>{id}</p>;
}
