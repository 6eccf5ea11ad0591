import IORedis from 'ioredis';
import type { QueueTarget } from './queueUrl';

/** The BullMQ queue every socsim coordinator and worker on a Redis server shares. */
export const QUEUE_NAME = 'socsim-points';

/** The Redis server cannot be reached (message redacted). */
export class QueueUnreachable extends Error {
  override readonly name = 'QueueUnreachable';
}

/** Connection options for BullMQ (which needs maxRetriesPerRequest null on its blocking connections). */
export function queueConnection(target: QueueTarget) {
  return { ...target.connection, maxRetriesPerRequest: null };
}

/** One PING with no retries: a wrong host, port or password is reported at once, not retried forever. */
export async function checkReachable(target: QueueTarget): Promise<void> {
  const client = new IORedis({ ...target.connection, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000 });
  // The connection's own error (WRONGPASS, ECONNREFUSED) says more than the failed command's "Connection is closed".
  let cause: Error | null = null;
  client.on('error', (e: Error) => {
    cause ??= e;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const message = (cause as Error | null)?.message ?? (e as Error)?.message ?? String(e);
    throw new QueueUnreachable(`cannot use the queue at ${target.shown}: ${target.redact(message)}`);
  } finally {
    client.disconnect();
  }
}

/**
 * Connection errors after start-up (the server restarted, the network dropped): ioredis
 * reconnects by itself; each distinct error is reported once, redacted, instead of an
 * unhandled 'error' event killing the process.
 */
export function quietErrors(target: QueueTarget, warn: (text: string) => void, ...emitters: { on(event: 'error', f: (e: Error) => void): unknown }[]): void {
  const seen = new Set<string>();
  for (const em of emitters) {
    em.on('error', (e: Error) => {
      const text = target.redact(e?.message ?? String(e));
      if (seen.has(text)) return;
      seen.add(text);
      warn(`queue ${target.shown}: ${text} (retrying)\n`);
    });
  }
}
