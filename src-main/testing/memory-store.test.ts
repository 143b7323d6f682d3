import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';

interface Doc {
  accounts: Array<{ id: string; tokens: string[] }>;
}

describe('MemoryStore, like the vault', () => {
  it('hands out deep-frozen documents, so a change outside update() throws', async () => {
    const store = new MemoryStore<Doc>({ accounts: [{ id: 'a', tokens: [] }] });
    expect(() => store.read().accounts[0]!.tokens.push('t')).toThrow(TypeError);
    const after = await store.update((d) => void d.accounts.push({ id: 'b', tokens: [] }));
    expect(() => (after.accounts[1]!.id = 'c')).toThrow(TypeError);
    expect(store.read().accounts.map((a) => a.id)).toEqual(['a', 'b']);
  });

  it('does not share the initial document with the caller', () => {
    const initial: Doc = { accounts: [] };
    const store = new MemoryStore(initial);
    initial.accounts.push({ id: 'x', tokens: [] });
    expect(store.read().accounts).toEqual([]);
    expect(Object.isFrozen(initial)).toBe(false);
  });

  it('runs updates one at a time, each on the result of the one before', async () => {
    const store = new MemoryStore<Doc>({ accounts: [] });
    await Promise.all(
      ['a', 'b', 'c'].map((id, i) =>
        store.update(async (d) => {
          await new Promise((r) => setTimeout(r, 10 * (3 - i)));
          d.accounts.push({ id, tokens: [] });
        }),
      ),
    );
    expect(store.read().accounts.map((a) => a.id)).toEqual(['a', 'b', 'c']);
  });

  it('leaves the document unchanged when a mutator throws, and goes on with the next update', async () => {
    const store = new MemoryStore<Doc>({ accounts: [{ id: 'a', tokens: [] }] });
    const before = store.read();
    await expect(
      store.update((d) => {
        d.accounts[0]!.tokens.push('half-done');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(store.read()).toBe(before);
    await store.update((d) => void d.accounts[0]!.tokens.push('t'));
    expect(store.read().accounts[0]!.tokens).toEqual(['t']);
  });

  it('stores a whole new document as JSON, as the vault writes it', async () => {
    const store = new MemoryStore<Doc & { at?: unknown }>({ accounts: [] });
    const next = await store.update((d) => ({ accounts: [...d.accounts, { id: 'n', tokens: [] }], at: new Date(0) }));
    expect(next).toEqual({ accounts: [{ id: 'n', tokens: [] }], at: '1970-01-01T00:00:00.000Z' });
    expect(Object.isFrozen(next.accounts[0])).toBe(true);
  });
});
