import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { postRaw } from '../../providers/http';

/**
 * An exchange ends within its connect + response budget whatever the other side does: a server
 * that answers its headers at once and then drips its body (a byte, or an empty deflate block,
 * now and then: each resets an idle timer) must not hold a worker's activity slot for hours.
 */
describe('postRaw: the whole exchange is bounded', () => {
  let server: http.Server;
  let url: string;
  const open = new Set<http.ServerResponse>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      open.add(res);
      res.on('close', () => open.delete(res));
      const gzip = req.url === '/gzip';
      res.writeHead(200, {
        'content-type': 'text/plain',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      });
      // 20 s of drip, a chunk every 100 ms: far past the 1.5 s the exchange is given.
      let ticks = 0;
      const deflate = gzip ? zlib.createGzip() : undefined;
      deflate?.pipe(res);
      const timer = setInterval(() => {
        ticks += 1;
        if (ticks > 200 || res.destroyed) {
          clearInterval(timer);
          if (deflate) deflate.end();
          else res.end();
          return;
        }
        if (deflate) {
          deflate.write(Buffer.alloc(0));
          deflate.flush();
        } else res.write('s');
      }, 100);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const res of open) res.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test.each([
    ['a body dripped a byte at a time', '/drip'],
    ['a gzip body that never grows', '/gzip'],
  ])('%s: the exchange fails as a timeout, not an answer', async (_name, path) => {
    const answer = await postRaw(`${url}${path}`, {}, 'x', { connectMs: 500, responseMs: 1_000 });
    expect(answer).toMatchObject({ ok: false, code: 'ETIMEDOUT' });
    // The budget is connect + response; the server would have gone on for 20 s.
    expect(answer.latencyMs).toBeLessThan(10_000);
  });
});
