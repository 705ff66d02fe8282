/**
 * `caught(promise)` for suites that check errors: awaits a promise that must reject, returns the
 * error, and keeps it in `seen` so a suite's last test can search every error for leaked secrets.
 */
export function rejectionCatcher(seen: unknown[]): (p: Promise<unknown>) => Promise<Error> {
  return async (p) => {
    try {
      await p;
    } catch (e) {
      seen.push(e);
      return e as Error;
    }
    throw new Error('expected a rejection');
  };
}
