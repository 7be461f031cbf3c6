import type { Me } from './draw-store.ts';

const name_storage_key = 'tabring.draw.name';
/** Colours other tabs see this tab's holds in; picked from the tab id. */
const palette = ['#d53f8c', '#dd6b20', '#2f855a', '#6b46c1', '#c53030', '#2b6cb0', '#b7791f', '#319795'];

/** Who this tab is: a fresh id per tab (each tab is its own user), a name and a colour. */
export function identity(): Me {
  const client = Math.floor(Math.random() * 36 ** 8).toString(36).padStart(8, '0');
  const name = localStorage.getItem(name_storage_key) ?? `Tab ${client.slice(0, 4)}`;
  const color = palette[parseInt(client.slice(-2), 36) % palette.length]!;
  return { client, name, color };
}

/** Keep the name for the next tabs of this browser. */
export function rememberName(name: string): void {
  try {
    localStorage.setItem(name_storage_key, name);
  } catch {
    /* storage refused (private mode): the name lasts for this tab */
  }
}
