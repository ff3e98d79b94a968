/**
 * Walking every row of a table a page at a time, each page after the last
 * row of the one before (keyset paging), with a progress report every so
 * many rows: how the tasks over a whole database (`audit:verify`,
 * `pii:rotate`, `pii:encrypt-existing`) read it.
 */

/** How a walk reads and reports; each walk states its own defaults. */
export interface WalkOptions<P> {
  /** Rows read at a time. */
  readonly pageSize?: number | undefined;
  /** Called each time another `progressEvery` rows are handled. */
  readonly onProgress?: ((progress: P) => void) | undefined;
  /** Rows between two `onProgress` calls. */
  readonly progressEvery?: number | undefined;
}

/** A walk's options with its defaults in place. */
export interface WalkSettings<P> {
  readonly pageSize: number;
  readonly onProgress: ((progress: P) => void) | undefined;
  readonly progressEvery: number;
}

/** `options`, with `defaults` for what they leave out. */
export function walkSettings<P>(
  options: WalkOptions<P>,
  defaults: { pageSize: number; progressEvery: number },
): WalkSettings<P> {
  return {
    pageSize: options.pageSize ?? defaults.pageSize,
    onProgress: options.onProgress,
    progressEvery: options.progressEvery ?? defaults.progressEvery,
  };
}

/**
 * Hands each row `page` reads to `visit`, in order: `pageSize` rows at a
 * time, each page after the last row of the one before (undefined for the
 * first), until a page comes back short or `visit` answers `false`.
 */
export async function walkPages<R>(
  page: (after: R | undefined, limit: number) => Promise<readonly R[]>,
  visit: (row: R) => Promise<boolean | void>,
  options: { pageSize: number },
): Promise<void> {
  let after: R | undefined;
  for (;;) {
    const rows = await page(after, options.pageSize);
    for (const row of rows) {
      if ((await visit(row)) === false) return;
      after = row;
    }
    if (rows.length < options.pageSize) return;
  }
}
