import { readable, type Readable } from 'svelte/store';

/** One second of the live chart. */
export interface Sample {
  /** Changes applied during the second. */
  rate: number;
  /** Mean score at its end, or null for an empty table. */
  average: number | null;
}

/** Seconds of samples the chart keeps. */
export const CHART_SECONDS = 60;

/**
 * The next second's sample from the update counter. The counter restarts
 * with each session, so a drop counts what the new session has made so far.
 */
export function sampleOf(updates: number, previousUpdates: number, average: string): Sample {
  const value = Number(average);
  return {
    rate: updates >= previousUpdates ? updates - previousUpdates : updates,
    average: average === '' || Number.isNaN(value) ? null : value,
  };
}

/**
 * The chart's samples while subscribed: one every `ms` from the counters as
 * `read` gives them then, the last CHART_SECONDS of them. A clock of its
 * own, so the chart redraws once a second however fast changes come.
 */
export function chartSamples(read: () => { updates: number; average: string }, ms = 1000): Readable<Sample[]> {
  return readable<Sample[]>([], (set) => {
    let samples: Sample[] = [];
    let previous = read().updates;
    const timer = setInterval(() => {
      const { updates, average } = read();
      samples = pushSample(samples, sampleOf(updates, previous, average));
      previous = updates;
      set(samples);
    }, ms);
    return () => clearInterval(timer);
  });
}

/** Seconds the changes-per-second figure is averaged over. */
export const RATE_SECONDS = 10;

/**
 * Changes per second over the last RATE_SECONDS samples (fewer at first), to
 * one decimal: a session changing every 2 s reads 0.5, not 0 and 1 in turn.
 */
export function recentRate(samples: readonly Sample[], seconds = RATE_SECONDS): string {
  const recent = samples.slice(-seconds);
  const total = recent.reduce((sum, sample) => sum + sample.rate, 0);
  return (recent.length === 0 ? 0 : total / recent.length).toFixed(1);
}

/** The samples with `sample` appended and the oldest dropped beyond `limit`. */
export function pushSample(samples: readonly Sample[], sample: Sample, limit = CHART_SECONDS): Sample[] {
  const next = [...samples, sample];
  return next.length > limit ? next.slice(next.length - limit) : next;
}

/**
 * SVG polyline points for `values` in a `width` × `height` box, the newest at
 * the right edge, `max` at the top. Missing values break nothing: they are skipped.
 */
export function polylinePoints(
  values: readonly (number | null)[],
  width: number,
  height: number,
  max: number,
  slots = CHART_SECONDS,
): string {
  const step = width / Math.max(1, slots - 1);
  const offset = slots - values.length;
  const points: string[] = [];
  values.forEach((value, i) => {
    if (value === null) return;
    const x = (offset + i) * step;
    const y = height - (max > 0 ? Math.min(1, Math.max(0, value / max)) : 0) * height;
    points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return points.join(' ');
}
