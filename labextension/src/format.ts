/** Seconds as a short duration: "0.4s", "12s", "3m 05s", "2h 01m", "1d 3h". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  if (seconds < 10) {
    return `${Math.max(0, seconds).toFixed(1)}s`;
  }
  const s = Math.round(seconds);
  if (s < 60) {
    return `${s}s`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  }
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Epoch seconds as a local date and time. */
export function formatTime(epoch: number | null | undefined): string {
  if (epoch === null || epoch === undefined) {
    return '';
  }
  return new Date(epoch * 1000).toLocaleString();
}
