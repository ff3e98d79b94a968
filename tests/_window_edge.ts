/**
 * Test-only: rate-limit windows that run on real time are fixed windows of
 * the wall clock (`floor(now / window)`); a test that straddles a boundary
 * would see the previous window weighted down. This waits out the rare
 * moment just before a boundary, so such tests stay deterministic.
 */

/** Resolves at once, or just after the next window boundary when it is near. */
export async function awayFromWindowEdge(
  windowMs: number,
  marginMs = 5000,
): Promise<void> {
  const untilEdge = windowMs - (Date.now() % windowMs);
  if (untilEdge < marginMs) {
    await new Promise((resolve) => setTimeout(resolve, untilEdge + 10));
  }
}
