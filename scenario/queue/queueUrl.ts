/**
 * `--queue redis://[[user]:password@]host[:port][/db]` (rediss:// for TLS). The password
 * never reaches a message: everything the queue code prints goes through `redact`.
 */

export class QueueUrlError extends Error {}

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

export interface QueueTarget {
  connection: QueueConnection;
  /** The URL with its password replaced by ***: what messages show. */
  shown: string;
  /** Replaces the password (as typed and URL-decoded) wherever it appears in `text`. */
  redact(text: string): string;
}

const MASK = '***';

export function parseQueueUrl(text: string): QueueTarget {
  // The password may be in the text we complain about: never echo the URL itself.
  const secrets: string[] = [];
  const userinfo = /^[a-z]+:\/\/([^@/]*)@/i.exec(text)?.[1];
  if (userinfo?.includes(':')) {
    const raw = userinfo.slice(userinfo.indexOf(':') + 1);
    if (raw) secrets.push(raw, safeDecode(raw));
  }
  const redact = (t: string) => secrets.filter(Boolean).reduce((s, x) => s.split(x).join(MASK), t);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not echoed: a mistyped URL may hide its password where redact cannot find it.
    throw new QueueUrlError('--queue: expected redis://[:password@]host[:port][/db] (not a URL)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new QueueUrlError(`--queue: a redis:// or rediss:// URL, got ${url.protocol}//…`);
  }
  if (!url.hostname) throw new QueueUrlError('--queue: the URL names no host');
  if (url.search || url.hash) throw new QueueUrlError('--queue: the URL takes no ?query or #fragment');
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw new QueueUrlError(`--queue: the database is a number (redis://host:6379/0), got "/${redact(dbText)}"`);
  const password = url.password ? safeDecode(url.password) : undefined;
  const connection: QueueConnection = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 6379,
    db: dbText === '' ? 0 : Number(dbText),
    ...(url.username ? { username: safeDecode(url.username) } : {}),
    ...(password ? { password } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const shown = `${url.protocol}//${url.username ? safeDecode(url.username) : ''}${url.password ? `:${MASK}` : ''}${url.username || url.password ? '@' : ''}${url.host}/${connection.db}`;
  return { connection, shown, redact };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
