import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { testServer } from '../test-support/dicomweb-helpers.js';
import { RequestActivity } from './request-activity.js';

describe('request activity (when the audit trail may sync on the event loop)', () => {
  it('counts each request once, however often its end is reported', () => {
    const activity = new RequestActivity();
    const endA = activity.begin();
    const endB = activity.begin();
    endA();
    endA();
    expect(activity.idle).toBe(false);
    endB();
    expect(activity.idle).toBe(true);
  });

  it('counts a request from arrival to its audit entry, including one whose client goes away mid-body', async () => {
    const { app, token } = await testServer();
    const activity = app.identity.activity;
    // Answered, refused, unknown and public requests all end their count.
    await Promise.all([
      app.inject({ method: 'GET', url: '/dicomweb/studies' }),
      app.inject({ method: 'GET', url: '/dicomweb/studies', headers: { authorization: 'Bearer nope' } }),
      app.inject({ method: 'GET', url: '/nowhere' }),
      app.inject({ method: 'GET', url: '/healthz' }),
    ]);
    expect(activity.idle).toBe(true);

    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    // A STOW whose body never finishes: working until the client aborts it.
    const stow = request({
      host: '127.0.0.1',
      port: address.port,
      method: 'POST',
      path: '/dicomweb/studies',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'multipart/related; type="application/dicom"; boundary=b', 'content-length': '100000' },
    });
    stow.on('error', () => undefined);
    stow.write('--b\r\nContent-Type: application/dicom\r\n\r\n');
    await expect.poll(() => activity.idle, { timeout: 5000 }).toBe(false);
    stow.destroy();
    await expect.poll(() => activity.idle, { timeout: 5000 }).toBe(true);
    await app.close();
  });
});
