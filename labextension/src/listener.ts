import { IChanges, requestAPI } from './request';

/** How long the server may hold a request for changes before answering "nothing new". */
export const CHANGES_WAIT_S = 25;
/** After a request for changes fails, ask again after 1 s, then 2 s, ... up to 60 s. */
export const MAX_CHANGES_RETRY_MS = 60000;

/**
 * One request for the changes of a root always waiting at the server's long poll
 * (`/hipercow/changes`): each answer is handed to `onAnswer` (awaited before asking again);
 * a failed request is retried after a growing pause.
 */
export class ChangesListener {
  constructor(private _onAnswer: (answer: IChanges) => Promise<void>) {}

  /** Whether the last request for changes was answered (starts and ends come at once). */
  get listening(): boolean {
    return this._listening;
  }

  /** Listen to the changes of `root`, stopping listening to the root before; null stops. */
  listen(root: string | null): void {
    const generation = ++this._generation;
    this._abort?.abort();
    this._abort = null;
    this._listening = false;
    if (root !== null) {
      void this._loop(root, generation);
    }
  }

  private async _loop(root: string, generation: number): Promise<void> {
    let token: string | undefined = undefined;
    let pause = 1000;
    while (generation === this._generation) {
      const abort = new AbortController();
      this._abort = abort;
      try {
        const answer: IChanges = await requestAPI<IChanges>(
          'changes',
          { root, since: token, timeout: token === undefined ? undefined : CHANGES_WAIT_S },
          { signal: abort.signal }
        );
        if (generation !== this._generation) {
          return;
        }
        token = answer.token;
        pause = 1000;
        this._listening = true;
        await this._onAnswer(answer);
      } catch {
        if (generation !== this._generation) {
          return;
        }
        token = undefined;
        this._listening = false;
        await new Promise(resolve => window.setTimeout(resolve, pause));
        pause = Math.min(pause * 2, MAX_CHANGES_RETRY_MS);
      }
    }
  }

  private _generation = 0;
  private _abort: AbortController | null = null;
  private _listening = false;
}
