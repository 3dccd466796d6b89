import { randomInt } from 'node:crypto';

/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/**
 * A small, fast, seedable generator (mulberry32), so tests and benchmarks can
 * replay the exact same sequence of changes.
 */
export function seededRandom(seed: number = randomInt(2 ** 31)): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max], both ends included. */
export function randomIntIn(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function pick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('pick from an empty list');
  return items[Math.floor(random() * items.length)] as T;
}

/**
 * Picks one of `choices` with probability proportional to its weight.
 * Choices of weight 0 are never picked; returns undefined when all weights are 0.
 */
export function weightedChoice<T>(random: Random, choices: readonly { value: T; weight: number }[]): T | undefined {
  const total = choices.reduce((sum, c) => sum + c.weight, 0);
  if (total <= 0) return undefined;
  let r = random() * total;
  for (const choice of choices) {
    if (choice.weight <= 0) continue;
    r -= choice.weight;
    if (r < 0) return choice.value;
  }
  // Floating-point rounding can leave r at a hair above 0: the last live choice wins.
  return choices.findLast((c) => c.weight > 0)?.value;
}
