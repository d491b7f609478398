import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LatestFrameMailbox } from '../receiver/latest-frame-mailbox';

describe('LatestFrameMailbox', () => {
  test('put() into an occupied slot keeps the newest frame and returns the one it displaced', async () => {
    const mailbox = new LatestFrameMailbox<number>();
    assert.equal(mailbox.put('cam', 1), undefined);
    assert.equal(mailbox.put('cam', 2), 1);
    assert.equal(mailbox.put('cam', 3), 2);
    assert.equal(await mailbox.take(), 3);
  });

  test('each stream has its own slot, and streams take turns', async () => {
    const mailbox = new LatestFrameMailbox<string>();
    mailbox.put('a', 'a1');
    mailbox.put('b', 'b1');
    mailbox.put('a', 'a2');
    assert.equal(await mailbox.take(), 'b1');
    assert.equal(await mailbox.take(), 'a2');
  });

  test('take() waits for the next put()', async () => {
    const mailbox = new LatestFrameMailbox<number>();
    const taken = mailbox.take();
    mailbox.put('cam', 7);
    assert.equal(await taken, 7);
  });

  test('close() lets take() drain what is left, then end', async () => {
    const mailbox = new LatestFrameMailbox<number>();
    mailbox.put('cam', 1);
    mailbox.close();
    mailbox.close();
    assert.equal(await mailbox.take(), 1);
    assert.equal(await mailbox.take(), undefined);
  });

  test('close() ends a take() that is waiting', async () => {
    const mailbox = new LatestFrameMailbox<number>();
    const taken = mailbox.take();
    mailbox.close();
    assert.equal(await taken, undefined);
  });
});
