/**
 * Streaming reader of a MediaWiki XML export (schema 0.3 to 0.11, "pages-articles"): yields
 * one page at a time while the bytes arrive, so an import shows progress from the first
 * page and memory stays at about one page whatever the size of the file.
 */

export interface ExportedPage {
  title: string;
  ns: number;
  id: number;
  /** Target of a redirect page (schema ≥ 0.5), else null. */
  redirect: string | null;
  revisionId: number;
  /** ISO time of the revision. */
  timestamp: string;
  contributor: string;
  comment: string;
  text: string;
}

/** A page element larger than this is refused rather than buffered without end. */
export const page_element_chars_max = 16 * 1024 * 1024;

/** Decode the five XML entities and numeric character references. */
export function decodeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    switch (e) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

function field(block: string, tag: string): string {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(block);
  return m ? decodeXml(m[1]!) : '';
}

/** One <page> element's text → the page (the last revision in it, as dumps of current pages have one). */
export function parsePageElement(block: string): ExportedPage {
  const revStart = block.lastIndexOf('<revision>');
  const head = revStart >= 0 ? block.slice(0, revStart) : block;
  const rev = revStart >= 0 ? block.slice(revStart) : '';
  const redirect = /<redirect\s+title="([^"]*)"/.exec(head);
  const textSelfClosing = /<text[^>]*\/>/.test(rev);
  const contributor = field(rev, 'contributor');
  return {
    title: field(head, 'title'),
    ns: Number(field(head, 'ns') || 0),
    id: Number(field(head, 'id') || 0),
    redirect: redirect ? decodeXml(redirect[1]!) : null,
    revisionId: Number(field(rev, 'id') || 0),
    timestamp: field(rev, 'timestamp'),
    contributor: field(contributor, 'username') || field(contributor, 'ip') || 'unknown',
    comment: field(rev, 'comment'),
    text: textSelfClosing ? '' : field(rev, 'text'),
  };
}

/** Pages of an export, read from a stream of text. */
export async function* readExport(text: ReadableStream<string>): AsyncGenerator<ExportedPage> {
  const reader = text.getReader();
  let buf = '';
  let sawRoot = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (value) buf += value;
      if (!sawRoot && buf.length > 0) {
        if (!/^\s*(<\?xml[^>]*>\s*)?<mediawiki\b/.test(buf.slice(0, 4096)) && buf.length >= 4096) throw new Error('this is not a MediaWiki XML export (no <mediawiki> element at the start)');
        if (/<mediawiki\b/.test(buf)) sawRoot = true;
      }
      for (;;) {
        const start = buf.indexOf('<page>');
        if (start < 0) {
          // Keep only a tail that could hold the start of "<page>".
          if (buf.length > 16) buf = buf.slice(-16);
          break;
        }
        const end = buf.indexOf('</page>', start);
        if (end < 0) {
          if (buf.length - start > page_element_chars_max) throw new Error(`a <page> element is larger than ${page_element_chars_max} characters`);
          buf = buf.slice(start);
          break;
        }
        yield parsePageElement(buf.slice(start + 6, end));
        buf = buf.slice(end + 7);
      }
      if (done) break;
    }
    if (!sawRoot) throw new Error('this is not a MediaWiki XML export (no <mediawiki> element)');
  } finally {
    reader.releaseLock();
  }
}

/**
 * Text of an export from its bytes; gzip (by its magic number, not the name, since a
 * server may already have decompressed it) is undone with DecompressionStream.
 */
export async function exportText(bytes: ReadableStream<Uint8Array>): Promise<ReadableStream<string>> {
  const reader = bytes.getReader();
  const first = await reader.read();
  const head = first.value ?? new Uint8Array();
  const gz = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  // Put the first chunk back in front of the rest.
  const whole = new ReadableStream<Uint8Array>({
    start(c) {
      if (head.length) c.enqueue(head);
      if (first.done) c.close();
    },
    async pull(c) {
      const { done, value } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel: (why) => reader.cancel(why),
  });
  const plain = gz ? whole.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>) : whole;
  return plain.pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>);
}
