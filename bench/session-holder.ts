/**
 * Holds the benchmark's open target sessions in a process of their own, as users' psql sessions are on their own
 * machines: 150 sessions ended in one instant otherwise put 150 disconnect handlers on the server's event loop,
 * delaying both the server and the timestamps being taken. Started by holdSessions (expiry-burst.ts): connects
 * each URL and `SET ROLE`s, says ready, then reports each session's end (Date.now(), or null past the timeout).
 */
import pg from 'pg';

interface Hold {
  urls: string[];
  role: string;
  timeoutMs: number;
}

process.once('message', async (msg: Hold) => {
  const ended: Promise<number | null>[] = [];
  for (const url of msg.urls) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    client.on('error', () => {});
    await client.connect();
    await client.query(`SET ROLE ${msg.role}`);
    ended.push(
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), msg.timeoutMs);
        const done = () => {
          clearTimeout(timer);
          resolve(Date.now());
        };
        client.once('error', done);
        client.once('end', done);
      }),
    );
  }
  process.send?.({ ready: true });
  process.send?.({ ended: await Promise.all(ended) }, () => process.exit(0));
});
