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
