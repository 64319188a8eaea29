import { LruCache } from '../../common/lru';

describe('LruCache', () => {
  test('keeps at most `capacity` entries, dropping the least recently used', () => {
    const cache = new LruCache<number>(2, 60_000);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recently used
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  test('forgets an entry once its time to live has passed', () => {
    let now = 1_000;
    const cache = new LruCache<string>(10, 500, () => now);
    cache.set('k', 'v');
    now = 1_499;
    expect(cache.get('k')).toBe('v');
    now = 1_500;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test('a capacity of 0 keeps nothing', () => {
    const cache = new LruCache<number>(0, 60_000);
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
