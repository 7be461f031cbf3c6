import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { toast } from '../shared/page.ts';
import { renderWithLinks } from './page-view.ts';
import { href } from './router.ts';
import { normalizeTitle } from './titles.ts';
import { EditConflictError, type WikiStore } from './wiki-store.ts';

const author_storage_key = 'tabring.wiki.author';

export function authorName(): string {
  return localStorage.getItem(author_storage_key) ?? `Tab ${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

export interface EditorHandle {
  element: HTMLElement;
  /** Tell the editor that someone saved the page while it is open. */
  pageChanged(rev: number): void;
}

/**
 * The editor. Saving sends the revision the text was based on; when someone saved in
 * between, the conflict view shows their version next to this one and keeps both.
 */
export async function editorView(store: WikiStore, titleRaw: string): Promise<EditorHandle> {
  const title = normalizeTitle(titleRaw);
  const page = await store.load(title);
  let baseRev = page?.record.rev ?? 0;
  const text = el('textarea', { rows: 22, 'data-testid': 'editor-text', spellcheck: 'false' });
  text.value = page?.text ?? '';
  const summary = el('input', { type: 'text', placeholder: 'What did you change?', class: 'grow', 'data-testid': 'editor-summary' });
  const author = el('input', { type: 'text', value: authorName(), size: 14, title: 'Your name in the history' });
  const save = el('button', { class: 'primary', 'data-testid': 'editor-save' }, ['Save page']);
  const previewBtn = el('button', {}, ['Preview']);
  const status = el('div', { 'data-testid': 'editor-status' });
  const preview = el('div', { class: 'wikitext preview' });
  const conflictSlot = el('div');

  previewBtn.onclick = async () => {
    preview.innerHTML = (await renderWithLinks(store, text.value)).html;
  };
  const doSave = async () => {
    save.disabled = true;
    status.replaceChildren(el('p', { class: 'notice info' }, ['Saving…']));
    localStorage.setItem(author_storage_key, author.value.trim() || authorName());
    try {
      const r = await store.save({ title, text: text.value, baseRev, author: author.value.trim() || 'anonymous', comment: summary.value.trim() });
      toast(`Saved revision ${r.rev} of “${title}”.`, 'ok');
      location.hash = href.page(title);
    } catch (e) {
      if (e instanceof EditConflictError) await showConflict(e);
      else status.replaceChildren(el('p', { class: 'notice error', role: 'alert' }, [`Not saved: ${describeError(e)} Your text is still here.`]));
    } finally {
      save.disabled = false;
    }
  };
  save.onclick = () => void doSave();

  const showConflict = async (e: EditConflictError) => {
    const theirs = await store.load(title);
    status.replaceChildren(
      el('p', { class: 'notice error', role: 'alert', 'data-testid': 'edit-conflict' }, [
        `Edit conflict: ${e.message}. Nothing was saved and nothing is lost: their version is on the left, yours on the right. Merge into your text, then save again.`,
      ]),
    );
    const theirText = el('textarea', { rows: 14, readonly: true, 'data-testid': 'conflict-theirs' });
    theirText.value = theirs?.text ?? '';
    const takeTheirs = el('button', {}, ['Use their text (replace mine)']);
    takeTheirs.onclick = () => {
      text.value = theirText.value;
    };
    baseRev = theirs?.record.rev ?? 0;
    const who = theirs ? `Revision ${theirs.revision.n} by ${theirs.revision.author}${theirs.revision.comment ? ` (“${theirs.revision.comment}”)` : ''}` : 'The page was deleted';
    conflictSlot.replaceChildren(
      el('div', { class: 'conflict' }, [
        el('div', {}, [el('h3', {}, [`Their version: ${who}`]), theirText, takeTheirs]),
        el('div', {}, [el('h3', {}, ['Your text (below) will be saved on top of their revision']), el('p', { class: 'muted small' }, ['Edit the text in the main editor, then press “Save page”.'])]),
      ]),
    );
  };

  const element = el('article', { class: 'page editor', 'data-testid': 'editor' }, [
    el('h1', {}, [page ? `Editing “${title}”` : `Creating “${title}”`]),
    el('p', { class: 'muted small' }, [
      page ? `Based on revision ${baseRev}. ` : 'A new page. ',
      "Wikitext: '''bold''', ''italic'', [[Link]], [[Link|label]], == Heading ==, * list, [[Category:Name]].",
    ]),
    conflictSlot,
    text,
    el('div', { class: 'row editor-bar' }, [summary, el('label', { class: 'muted small' }, ['Your name ', author]), previewBtn, save, el('a', { href: href.page(title) }, ['Cancel'])]),
    status,
    preview,
  ]);
  return {
    element,
    pageChanged(rev) {
      if (rev === baseRev) return;
      status.replaceChildren(
        el('p', { class: 'notice info', 'data-testid': 'editor-warning' }, [`Someone saved revision ${rev} of this page while you are editing. When you save you will see both versions.`]),
      );
    },
  };
}
