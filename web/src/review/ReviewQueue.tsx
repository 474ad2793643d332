export function ReviewQueue() {
  return null;
}
