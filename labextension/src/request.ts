import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A task as the server's task table lists it. */
export interface ITaskRow {
  id: string;
  name: string | null;
  type: string | null;
  /** null for a task folder whose files say nothing of its status. */
  status: string | null;
  resources: string | null;
  created: number | null;
  started: number | null;
  finished: number | null;
  waited: number | null;
  ran_for: number | null;
  /** The node it ran (or runs) on; null if it never started. */
  node: string | null;
  /** created / started / finished as every display writes clock times ('' when not yet). */
  clock: { created: string; started: string; finished: string };
  /** Why the task's record can't be read (the row shows what its files still say), or null. */
  problem?: string | null;
  /**
   * One line on why it waits or why it ended, when that is worth a look: "waiting for task
   * 1a2b3c4d (running)", "upstream task 1a2b3c4d failed"; null otherwise.
   */
  note?: string | null;
  /** The scheduler's job id while queued or running ("123", "123_4" for an array element). */
  job_id?: string | null;
  /** For a queued task, why it waits, in words; null otherwise. */
  pending?: string | null;
  /** What to change so a queued task can start, or null. */
  pending_action?: string | null;
  /** A failed task's one line: its exception's type and message, else why it failed. */
  error?: string | null;
  /** A bundle task's parameters ({name: short repr}); null for others. */
  row?: { [name: string]: string } | null;
  /** A call task's arguments, as shown; null for others. */
  args?: string[] | null;
  /** In a bundle's page: the id the bundle holds (the row is its newest retry). */
  original?: string;
  /**
   * What the task uses or used, in words: while it runs 'using 1.3 of 4 cores, 1.2 GB of
   * 8 GB'; once it has ended 'used 1.2 of 4 cores on average (30%), peak 900 MB of 16 GB
   * (6%)'; null when nothing was measured.
   */
  usage?: string | null;
  /** Whether `usage` holds the task's final figures (false while it runs). */
  usage_final?: boolean;
  /** Which attempt of its retry policy the task is ('attempt 2 of 3: out of memory at 2 GB,
   * now 3 GB'), or why it was not retried; null for a first attempt or without a policy. */
  attempt?: string | null;
}

/** One page of a root's tasks, with counts per status over the whole root. */
export interface ITaskPage {
  root: string;
  total: number;
  /** Asked for loose tasks only: how many tasks of bundles were left out of `total`. */
  bundled?: number;
  counts: { [status: string]: number };
  offset: number;
  limit: number;
  now: number;
  tasks: ITaskRow[];
}

/** A bundle of the root: its name, how many tasks, and how many have each status. */
export interface IBundle {
  name: string;
  size: number;
  counts: { [status: string]: number };
}

/** A page of the root's bundles, newest first. */
export interface IBundlePage {
  root: string;
  total: number;
  offset: number;
  limit: number;
  now: number;
  bundles: IBundle[];
}

/** A page of one bundle's tasks (each the newest retry of its row), with its counts. */
export interface IBundleTasks {
  root: string;
  name: string;
  size: number;
  counts: { [status: string]: number };
  total: number;
  offset: number;
  limit: number;
  now: number;
  tasks: ITaskRow[];
}

/**
 * The answer of the long poll `changes`: what changed in a root since the token `since`.
 * `changed` is null when the server can't say (fetch everything again).
 */
export interface IChanges {
  root: string;
  token: string;
  changed: { id: string; status: string | null }[] | null;
  counts: { [status: string]: number };
  problem: string | null;
  now: number;
}

export interface IRoots {
  /** The roots a search found; null when the request asked for no search. */
  roots: string[] | null;
  current: string | null;
  /** Why the server's search for roots stopped early (it lists what it found), or null. */
  message?: string | null;
}

/**
 * The parts of `hipercow_cluster_info()` the panel shows; `driver` is null (and
 * the rest absent) for a root with no driver configured.
 */
export interface ICluster {
  driver: string | null;
  name: string;
  nodes: { name: string; cores: number; memory: number | null; gpus?: number }[];
  max_cores: number;
  max_memory: number | null;
  /** The most GPUs any one node has (0: no node has any). */
  max_gpus?: number;
}

/** One page of a task's log: bytes `start` to `offset` of a log of `size` bytes. */
export interface ILogChunk {
  id: string;
  text: string | null;
  start: number;
  offset: number;
  size: number;
  status: string;
}

/** An error the server reported, with its own message. */
export class HipercowRequestError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

/**
 * Call the hipercow server extension (token and XSRF header are added by
 * `ServerConnection.makeRequest`).
 */
export async function requestAPI<T>(
  endpoint: string,
  query: { [key: string]: string | number | undefined } = {},
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const params = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const url =
    URLExt.join(settings.baseUrl, 'hipercow', endpoint) + (params ? `?${params}` : '');
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new HipercowRequestError(
      `Cannot reach the Jupyter server: ${(error as Error).message}`,
      0
    );
  }
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message =
      (body && (body.message || body.reason)) || text || response.statusText;
    throw new HipercowRequestError(String(message), response.status);
  }
  return body as T;
}
