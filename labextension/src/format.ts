/**
 * Durations written as every hipercow display writes them: the same rules as
 * `hipercow_magic.core.format.pretty_dt` ('350ms', '4.2s', '12s', '3m 5s', '1h 5m', '2d 3h').
 * Clock times come from the server, already written by `core.format.clock_time`.
 */

/** `x` rounded to a whole number as Python's `f"{x:.0f}"` does: halves go to the even one. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest === 0.5) {
    return floor % 2 === 0 ? floor : floor + 1;
  }
  return Math.round(x);
}

/** Seconds as a short duration, exactly as Python's `pretty_dt`; '???' when unknown. */
export function prettyDt(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return '???';
  }
  if (seconds < 1) {
    return `${roundHalfEven(seconds * 1000)}ms`;
  }
  if (seconds < 60) {
    return seconds < 10 ? `${seconds.toFixed(1)}s` : `${roundHalfEven(seconds)}s`;
  }
  const whole = Math.trunc(seconds);
  const minutes = Math.floor(whole / 60);
  const secs = whole % 60;
  if (minutes < 60) {
    return `${minutes}m` + (secs ? ` ${secs}s` : '');
  }
  const hours = Math.floor(minutes / 60);
  const mins = minutes % 60;
  if (hours < 24) {
    return `${hours}h` + (mins ? ` ${mins}m` : '');
  }
  const days = Math.floor(hours / 24);
  const hrs = hours % 24;
  return `${days}d` + (hrs ? ` ${hrs}h` : '');
}
