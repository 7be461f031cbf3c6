/** Small formatting helpers shared by the pages. */

/** Short label of a ring id: the top 24 bits in hex, as the protocol's logs print it. */
export function shortId(id: number | null | undefined): string {
  if (id === null || id === undefined) return '—';
  return Math.floor(id / 2 ** 28).toString(16).padStart(6, '0');
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function formatTime(ts: number): string {
  return new Date(ts).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Escape text for HTML (element content and double-quoted attributes). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** UTF-8 length of a string in bytes (the unit of the store's limits). */
export function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}
