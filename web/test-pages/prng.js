// mulberry32: a small seeded PRNG for test data, shared by the Node tests
// (web/test/helpers.ts) and the pages that run in browsers (soak.js).

/** Each call gives the next u32 of the sequence for `seed`. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
