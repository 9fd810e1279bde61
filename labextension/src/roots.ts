import { IRoots, requestAPI } from './request';

/** How `RootFinder.locate` asks for the list of roots (see there). */
export type RootSearch = 'none' | 'shared' | 'fresh';

/**
 * Which root holds the path the panel follows (the file browser's folder, the notebook in
 * front), and the roots the server serves, for the panel's menu.
 */
export class RootFinder {
  /** The path followed (relative to the server's root folder), or null before the first. */
  path: string | null = null;
  /** The root holding `path`, or null (none, or not looked for yet). */
  followed: string | null = null;
  /** The roots the server serves. */
  roots: string[] = [];
  /** Why the server stopped looking for roots early (the menu lists what it found), or null. */
  message: string | null = null;

  /**
   * Ask the server which root holds `path`. The menu's list of roots comes with it: from
   * a search the server shares for a few seconds ('shared'), from a new search ('fresh'),
   * or not at all ('none': a few file checks on the server, cheap enough to repeat).
   * Answers null when it was found, else why not; undefined when a later look overtook
   * this one (its answer is the one that counts) or no path is followed.
   */
  async locate(search: RootSearch): Promise<string | null | undefined> {
    const path = this.path;
    if (path === null) {
      return undefined;
    }
    const generation = ++this._generation;
    try {
      const found = await requestAPI<IRoots>('roots', {
        path,
        search: search === 'shared' ? undefined : search
      });
      if (generation !== this._generation) {
        return undefined;
      }
      if (found.roots !== null) {
        this.roots = found.roots;
        this.message = found.message ?? null;
      } else if (found.current !== null && !this.roots.includes(found.current)) {
        this.roots = [...this.roots, found.current];
      }
      this.followed = found.current;
      return null;
    } catch (error) {
      return generation === this._generation ? (error as Error).message : undefined;
    }
  }

  private _generation = 0;
}
