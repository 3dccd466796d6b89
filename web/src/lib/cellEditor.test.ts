import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';
import type { Row, RowPatch } from '../../../shared/protocol';
import { cellProblem, createCellEditor, parseCell } from './cellEditor';
import type { RowsApi, WriteOutcome } from './rowsApi';

const ROW: Row = { id: 3, name: '张三', age: 30, city: '北京', score: 85.5, status: '活跃' };

/**
 * The write API's answers as the server gives them (If-Match against the
 * row's seq), on a table of one row; `others` lets a test write as someone else.
 */
function fakeApi() {
  let row: Row | undefined = { ...ROW };
  let seq = 10;
  const etag = () => `"${seq}"`;
  const calls: { patch: RowPatch; etag: string | null | undefined }[] = [];
  const answer = (): WriteOutcome =>
    row === undefined
      ? { ok: false, status: 404, code: 'row_not_found', message: 'No row 3.' }
      : { ok: true, row: { ...row }, etag: etag(), seq };
  const api: RowsApi = {
    get: () => Promise.resolve(answer()),
    add: () => Promise.reject(new Error('not used')),
    remove: () => Promise.reject(new Error('not used')),
    update(_id, patch, ifMatch) {
      calls.push({ patch, etag: ifMatch });
      if (row === undefined) return Promise.resolve(answer());
      if (ifMatch !== undefined && ifMatch !== null && ifMatch !== etag()) {
        return Promise.resolve({
          ok: false,
          status: 412,
          code: 'row_changed',
          message: 'The row has changed.',
          current: { row: { ...row }, etag: etag() },
        });
      }
      if (patch.age !== undefined && patch.age > 150) {
        return Promise.resolve({
          ok: false,
          status: 400,
          code: 'invalid_row',
          message: 'Bad row.',
          fields: { age: 'must be a whole number from 0 to 150' },
        });
      }
      row = { ...row, ...patch };
      seq++;
      return Promise.resolve(answer());
    },
  };
  return {
    api,
    calls,
    others(patch: RowPatch | null) {
      row = patch === null ? undefined : { ...(row as Row), ...patch };
      seq++;
    },
    row: () => row,
  };
}

function setUp() {
  const server = fakeApi();
  const wrote: number[] = [];
  const editor = createCellEditor(server.api, (seq) => wrote.push(seq));
  return { server, wrote, editor, edit: () => get(editor.edit) };
}

describe('typed values', () => {
  it('are numbers for age and score, text otherwise, and checked by the server’s rules', () => {
    expect(parseCell('age', ' 42 ')).toBe(42);
    expect(parseCell('score', '')).toBeNaN();
    expect(parseCell('name', ' 王五 ')).toBe(' 王五 ');
    expect(cellProblem('age', '42')).toBeUndefined();
    expect(cellProblem('age', '4.5')).toBe('rule.age');
    expect(cellProblem('age', '151')).toBe('rule.age');
    expect(cellProblem('score', '99.95')).toBe('rule.score');
    expect(cellProblem('score', 'x')).toBe('rule.score');
    expect(cellProblem('name', '   ')).toBe('rule.name');
    expect(cellProblem('city', 'a\u0007b')).toBe('rule.city');
    expect(cellProblem('city', '上'.repeat(41))).toBe('rule.city');
    expect(cellProblem('status', '活跃')).toBeUndefined();
    expect(cellProblem('status', 'busy')).toBe('rule.status');
  });
});

describe('editing a cell', () => {
  it('saves with the ETag read when the edit began, and reports the seq of its change', async () => {
    const { server, wrote, editor, edit } = setUp();
    editor.start(ROW, 'city');
    editor.input('上海');
    expect(await editor.save()).toBe(true);
    expect(server.calls).toEqual([{ patch: { city: '上海' }, etag: '"10"' }]);
    expect(server.row()?.city).toBe('上海');
    expect(wrote).toEqual([11]);
    expect(edit()).toBeNull();
  });

  it('writes nothing when the value did not change ("85.5" is the score 85.5)', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'score');
    editor.input('85.50');
    expect(await editor.save()).toBe(true);
    expect(server.calls).toEqual([]);
    expect(edit()).toBeNull();
  });

  it('does not send what breaks a rule, and keeps the edit open', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'age');
    editor.input('two hundred');
    expect(await editor.save()).toBe(false);
    expect(server.calls).toEqual([]);
    expect(edit()?.phase).toBe('editing');
  });

  it('shows the server’s words for a field it refuses', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'age');
    // Allowed here, refused by the fake server: stands for a rule only the server knows.
    editor.input('150');
    server.api.update = () =>
      Promise.resolve({ ok: false, status: 400, code: 'invalid_row', message: 'x', fields: { age: 'too old' } });
    expect(await editor.save()).toBe(false);
    expect(edit()).toMatchObject({ phase: 'editing', refusal: 'too old', text: '150' });
  });

  it('cancels without a write', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'name');
    editor.input('李四');
    editor.cancel();
    expect(edit()).toBeNull();
    expect(await editor.save()).toBe(true);
    expect(server.calls).toEqual([]);
  });
});

describe('when someone else changed the row first', () => {
  it('shows their value; saving again overwrites it, with the new ETag', async () => {
    const { server, wrote, editor, edit } = setUp();
    editor.start(ROW, 'city');
    await Promise.resolve();
    server.others({ city: '广州' });
    editor.input('上海');
    expect(await editor.save()).toBe(false);
    expect(edit()).toMatchObject({ phase: 'conflict', theirs: '广州', text: '上海', etag: '"11"' });
    expect(server.row()?.city).toBe('广州');
    expect(await editor.save()).toBe(true);
    expect(server.calls.map((c) => c.etag)).toEqual(['"10"', '"11"']);
    expect(server.row()?.city).toBe('上海');
    expect(wrote).toEqual([12]);
  });

  it('cancelling in a conflict keeps their value', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'city');
    await Promise.resolve();
    server.others({ city: '广州' });
    editor.input('上海');
    await editor.save();
    editor.cancel();
    expect(edit()).toBeNull();
    expect(server.row()?.city).toBe('广州');
  });

  it('retries at once when only another cell of the row changed', async () => {
    const { server, wrote, editor } = setUp();
    editor.start(ROW, 'city');
    await Promise.resolve();
    server.others({ score: 12 });
    editor.input('上海');
    expect(await editor.save()).toBe(true);
    expect(server.row()).toMatchObject({ city: '上海', score: 12 });
    expect(wrote).toEqual([12]);
  });

  it('ends quietly when they wrote the very value typed', async () => {
    const { server, wrote, editor, edit } = setUp();
    editor.start(ROW, 'city');
    await Promise.resolve();
    server.others({ city: '上海' });
    editor.input('上海');
    expect(await editor.save()).toBe(true);
    expect(edit()).toBeNull();
    expect(wrote).toEqual([]);
  });

  it('says so when the row was deleted', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'city');
    await Promise.resolve();
    server.others(null);
    editor.input('上海');
    expect(await editor.save()).toBe(false);
    expect(edit()?.phase).toBe('gone');
  });
});

describe('nothing is written unseen', () => {
  it('never saves without an ETag: a failed read is tried again, and a second failure is shown', async () => {
    const { server, editor, edit } = setUp();
    const get = server.api.get;
    let failures = 2;
    server.api.get = (id) =>
      failures-- > 0 ? Promise.resolve({ ok: false, status: 0, code: 'network_error', message: 'offline' }) : get(id);
    editor.start(ROW, 'city');
    editor.input('上海');
    expect(await editor.save()).toBe(false);
    expect(server.calls).toEqual([]);
    expect(edit()).toMatchObject({ phase: 'editing', refusal: 'offline', etag: null });
    // The next save reads the row again, and now it answers.
    expect(await editor.save()).toBe(true);
    expect(server.calls).toEqual([{ patch: { city: '上海' }, etag: '"10"' }]);
  });

  it('a value that changed before the row was read is a conflict, not a base to write over', async () => {
    const { server, editor, edit } = setUp();
    // The page showed 北京; by the time the edit reads the row it is 广州.
    server.others({ city: '广州' });
    editor.start(ROW, 'city');
    editor.input('上海');
    await Promise.resolve();
    await Promise.resolve();
    expect(edit()).toMatchObject({ phase: 'conflict', theirs: '广州', etag: '"11"' });
    expect(server.calls).toEqual([]);
    // Saving now is a choice made seeing their value.
    expect(await editor.save()).toBe(true);
    expect(server.calls).toEqual([{ patch: { city: '上海' }, etag: '"11"' }]);
  });

  it('an untouched edit takes the value the read finds', async () => {
    const { server, editor, edit } = setUp();
    server.others({ city: '广州' });
    editor.start(ROW, 'city');
    await Promise.resolve();
    await Promise.resolve();
    expect(edit()).toMatchObject({ phase: 'editing', text: '广州', base: '广州', etag: '"11"' });
  });

  it('while a save is out, it cannot be cancelled or replaced, and its refusal is shown', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'age');
    editor.input('150');
    await Promise.resolve();
    let answer!: (outcome: WriteOutcome) => void;
    server.api.update = () => new Promise((resolve) => (answer = resolve));
    const saving = editor.save();
    await Promise.resolve();
    expect(edit()?.phase).toBe('saving');
    expect(editor.cancel()).toBe(false);
    expect(editor.start({ ...ROW, id: 4 }, 'name')).toBe(false);
    answer({ ok: false, status: 429, code: 'rate_limited', message: 'Too many writes.' });
    expect(await saving).toBe(false);
    expect(edit()).toMatchObject({ id: 3, phase: 'editing', refusal: 'Too many writes.' });
  });

  it('a save that changed nothing on the server is not told as the viewer’s change', async () => {
    const { server, wrote, editor } = setUp();
    editor.start(ROW, 'city');
    editor.input('上海');
    await Promise.resolve();
    // The server found nothing to change: it answers the seq the row already had.
    server.api.update = () => Promise.resolve({ ok: true, row: { ...ROW, city: '上海' }, etag: '"10"', seq: 10 });
    expect(await editor.save()).toBe(true);
    expect(wrote).toEqual([]);
  });
});

describe('typing on while a save is out', () => {
  it('keeps what was typed, and a second Enter saves it after the first', async () => {
    const { server, wrote, editor, edit } = setUp();
    editor.start(ROW, 'age');
    editor.input('35');
    await Promise.resolve();
    const first = editor.save();
    editor.input('36');
    expect(await editor.save()).toBe(false); // told to save again once the first is back
    expect(await first).toBe(true);
    expect(server.calls).toEqual([
      { patch: { age: 35 }, etag: '"10"' },
      { patch: { age: 36 }, etag: '"11"' },
    ]);
    expect(server.row()?.age).toBe(36);
    expect(wrote).toEqual([11, 12]);
    expect(edit()).toBeNull();
  });

  it('without a second Enter, leaves the edit open on what was typed', async () => {
    const { server, editor, edit } = setUp();
    editor.start(ROW, 'age');
    editor.input('35');
    await Promise.resolve();
    const first = editor.save();
    editor.input('36');
    expect(await first).toBe(false);
    expect(server.row()?.age).toBe(35);
    expect(edit()).toMatchObject({ phase: 'editing', text: '36', base: '35', etag: '"11"' });
  });
});
