// Work of the two address families' cycles that must not overlap: one nft table for both, and
// hooks that should not run twice at once.

/** Runs the work handed to it after the work handed before has settled. */
export type InTurn = <T>(work: () => Promise<T>) => Promise<T>;

/** Runs the work handed to it one at a time, in the order it comes (a failure does not stop the next). */
export function oneAtATime(): InTurn {
  let last: Promise<unknown> = Promise.resolve();
  return (work) => {
    const next = last.then(work, work);
    last = next.catch(() => undefined);
    return next;
  };
}

/** No turns: one family only. */
export const atOnce: InTurn = (work) => work();
