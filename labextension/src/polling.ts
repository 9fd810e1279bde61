/** Poll every 2 s while tasks are submitted or running. */
export const FAST_POLL_MS = 2000;
/** While a running task's live usage is shown, every 5 s (its figures are read every 2 s). */
export const LIVE_USAGE_POLL_MS = 5000;
/** An idle root is polled every 10 s at first, backing off to every 30 s. */
export const IDLE_POLL_MS = 10000;
export const MAX_IDLE_POLL_MS = 30000;
/** While no root holds the followed folder, look for one every 5 s. */
export const NO_ROOT_POLL_MS = 5000;
/** After a kernel finishes running code, look again this much later (once for many cells). */
export const KERNEL_IDLE_WAIT_MS = 300;
/** The root's timeline draws this many of its newest tasks. */
export const ROOT_TIMELINE_LIMIT = 200;

/**
 * How long the panel waits before its next timed look at a root (`now`), and the idle
 * delay to use after that (`idle`, backing off while nothing is queued or running).
 */
export function pollDelay(
  state: { active: boolean; visible: boolean; listening: boolean; live?: boolean },
  failing: boolean,
  idle: number
): { now: number; idle: number } {
  if (state.active && state.visible && !state.listening) {
    return { now: FAST_POLL_MS, idle: IDLE_POLL_MS };
  }
  if (state.live && state.visible) {
    return { now: LIVE_USAGE_POLL_MS, idle: IDLE_POLL_MS };
  }
  if (state.active || failing) {
    return { now: IDLE_POLL_MS, idle };
  }
  return { now: idle, idle: Math.min(idle * 2, MAX_IDLE_POLL_MS) };
}
