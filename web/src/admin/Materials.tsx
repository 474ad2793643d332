export function Materials() {
  return null;
}
