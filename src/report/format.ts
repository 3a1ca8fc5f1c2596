// Number formats shared by the terminal, Markdown and HTML reports.

export const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export const ms = (v: number): string => `${v.toFixed(3)} ms`;

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
