// Number formats shared by the terminal, Markdown and HTML reports.

export const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export const ms = (v: number): string => `${v.toFixed(3)} ms`;

/** `x` to `digits` significant digits: what a measurement means, not float noise (0.30764899999985573 → 0.3076). */
export function significant(x: number, digits: number): number {
  return Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(digits)) : x;
}

/** A difference of fractions (an accuracy drop) without its float noise: 0.0010000000000000009 → 0.001. */
export const fraction = (x: number): number => Math.round(x * 1e8) / 1e8;

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
