/** Task statuses in lifecycle order, as the server names them. */
export const STATUS_ORDER = [
  'created',
  'submitted',
  'running',
  'success',
  'failure',
  'cancelled'
];

/** Statuses a task never leaves (it may be retried as a new task). */
export const FINISHED = ['success', 'failure', 'cancelled'];

/**
 * Queued or running on the cluster: what `task_cancel` acts on, and what keeps
 * the panel polling fast. A created task waits for `%hipercow submit`, not for
 * the cluster, so it is not active.
 */
export const ACTIVE = ['submitted', 'running'];

/** How many tasks have each status (a status left out has none). */
export type Counts = { [status: string]: number };

/** Whether two sets of counts say the same (a missing status counts as 0). */
export function sameCounts(a: Counts, b: Counts): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every(k => (a[k] ?? 0) === (b[k] ?? 0));
}
