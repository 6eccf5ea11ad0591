import { parseQueueUrl, QueueUrlError } from '../../scenario/queue/queueUrl';

describe('--queue URLs', () => {
  test('host, port, database, user and password; shown with the password masked', () => {
    const t = parseQueueUrl('redis://worker:p%40ss@10.0.0.5:6380/3');
    expect(t.connection).toEqual({ host: '10.0.0.5', port: 6380, db: 3, username: 'worker', password: 'p@ss' });
    expect(t.shown).toBe('redis://worker:***@10.0.0.5:6380/3');
    expect(t.redact('AUTH p@ss failed; p%40ss too')).toBe('AUTH *** failed; *** too');
    expect(parseQueueUrl('redis://localhost').connection).toEqual({ host: 'localhost', port: 6379, db: 0 });
    expect(parseQueueUrl('rediss://:pw@h:1').connection).toEqual({ host: 'h', port: 1, db: 0, password: 'pw', tls: {} });
    expect(parseQueueUrl('redis://:pw@h').shown).toBe('redis://:***@h/0');
  });

  test('bad URLs are refused without echoing the password', () => {
    const cases: [string, RegExp][] = [
      ['http://:hunter2@h', /a redis:\/\/ or rediss:\/\/ URL/],
      ['redis://:hunter2@h/db', /the database is a number/],
      ['redis://:hunter2@h/0?x=1', /no \?query/],
      ['redis//:hunter2@h', /expected redis:\/\/\[:password@\]host/],
    ];
    for (const [url, re] of cases) {
      let err: Error | null = null;
      try {
        parseQueueUrl(url);
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(QueueUrlError);
      expect(err!.message).toMatch(re);
      expect(err!.message).not.toMatch(/hunter2/);
    }
  });
});
