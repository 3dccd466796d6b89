const names = ['张伟', '王芳', '李娜', '刘洋', '陈静'];

/**
 * The change event the bare Node broadcaster and Nchan's publisher send as
 * number `seq`: an update of Livetable's shape and size (its id, one changed
 * field, the message, timestamp and marks), as JSON.
 */
export function benchEvent(seq: number): string {
  return JSON.stringify({
    type: 'update',
    seq,
    data: { id: (seq % 1000) + 1, score: 60 + (seq % 400) / 10 },
    message: `更新了用户 ${names[seq % names.length]}`,
    timestamp: new Date().toISOString(),
    generation_count: seq,
    origin: 's-0123456789ab',
  });
}
