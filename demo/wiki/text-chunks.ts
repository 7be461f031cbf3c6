/**
 * Long texts are stored in chunks because a value is at most 128 KiB of JSON. A chunk's
 * budget is counted in the unit of that limit: bytes of the JSON string in UTF-8, escapes
 * included (a newline costs 2 bytes, a control character 6, "é" 2, "€" 3, "😀" 4).
 */
export const text_chunk_json_bytes_max = 100 * 1024;

function jsonCost(code: number): number {
  if (code === 0x22 || code === 0x5c) return 2; // " and \
  if (code < 0x20) return code === 0x0a || code === 0x0d || code === 0x09 || code === 0x08 || code === 0x0c ? 2 : 6;
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdfff) return 2; // half of a surrogate pair (4 bytes together)
  return 3;
}

/** Split text into chunks whose JSON encoding fits the budget; never splits a surrogate pair. */
export function splitText(text: string, budget = text_chunk_json_bytes_max): string[] {
  const quotes = 2;
  const chunks: string[] = [];
  let start = 0;
  let cost = quotes;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const c = jsonCost(code);
    const pairStart = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length;
    const need = pairStart ? c + jsonCost(text.charCodeAt(i + 1)) : c;
    if (cost + need > budget && i > start) {
      chunks.push(text.slice(start, i));
      start = i;
      cost = quotes;
    }
    cost += need;
    if (pairStart) i++;
  }
  chunks.push(text.slice(start));
  return chunks;
}
