/**
 * The Compose stack, run for real: images built from this tree on an offline Debian base, a hub,
 * three test-pattern cameras, a recorder and the web viewer. `npm run test:deploy`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePorts } from './free-ports';
import { ComposeStack, poll, sh, type JsonRecord } from './compose-stack';

const PROJECT = `zerocam-deploy-test-${process.pid}`;
const TAG = 'deploy-test';
const TOKEN = 'deploy-test-token';
const MINUTE = 60_000;

const stack = new ComposeStack(PROJECT, {
  ZEROCAM_TAG: TAG,
  ZEROCAM_BASE_IMAGE: 'zerocam-base:trixie',
  // Every published port on loopback, and ephemeral, so the suite collides with nothing.
  ZEROCAM_PUBLISH_ADDRESS: '127.0.0.1',
  ZEROCAM_WEB_ADDRESS: '127.0.0.1',
  ZEROCAM_SENDERS_PORT: '',
  ZEROCAM_RECEIVERS_PORT: '',
  ZEROCAM_HUB_HTTP_PORT: '',
  ZEROCAM_WEB_PORT: '',
  ZEROCAM_WORKERS_PORT: '',
  ZEROCAM_RESULTS_PORT: '',
  ZEROCAM_TOKEN: TOKEN,
});

let startedDaemon: number | undefined;

const streamsOf = (record: JsonRecord): Record<string, JsonRecord> => (record.streams as Record<string, JsonRecord> | undefined) ?? {};

/** Topics the hub's gateway lists as live. */
async function liveTopics(): Promise<string[]> {
  const address = await stack.published('hub', 8081);
  const response = await fetch(`http://${address}/streams.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { streams: { topic: string; state: string }[] };
  return body.streams.filter((s) => s.state === 'live').map((s) => s.topic).sort();
}

describe('the Compose stack', { timeout: 40 * MINUTE }, () => {
  before(async () => {
    const pid = (await sh('bash', ['deploy/scripts/docker-ready.sh'])).trim();
    startedDaemon = pid ? Number(pid) : undefined;
    await sh('bash', ['deploy/scripts/docker-base-image.sh', 'zerocam-base:trixie']);
    await sh('bash', ['deploy/scripts/host-ca-for-build.sh']);
    await stack.compose('build');
  });

  after(async () => {
    await stack.compose('down', '--volumes', '--remove-orphans', '--timeout', '5').catch((error: unknown) => console.error(String(error)));
    if (startedDaemon !== undefined) process.kill(startedDaemon, 'SIGTERM');
  });

  test('three scaled cameras reach the recorder as three streams, saved on its volume', async () => {
    await stack.compose('up', '--detach', '--scale', 'camera=3', '--scale', 'worker=2');
    const record = await stack.waitForJson(
      'recorder',
      (r) => Object.values(streamsOf(r)).filter((s) => Number(s.saved) > 0).length === 3,
      3 * MINUTE,
      'three streams have saved frames',
    );
    const topics = Object.keys(streamsOf(record)).sort();
    assert.equal(new Set(topics).size, 3);

    // What is on the volume, read inside the recorder's own container.
    const listing = JSON.parse(
      await stack.exec(
        'recorder',
        'node',
        '-e',
        `const fs = require('fs');
         const dirs = fs.readdirSync('/recordings', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
         const files = Object.fromEntries(dirs.map((d) => [d, fs.readdirSync('/recordings/' + d).filter((f) => f.endsWith('.jpg'))]));
         const first = dirs.map((d) => fs.readFileSync('/recordings/' + d + '/' + files[d][0]).subarray(0, 3).toString('hex'));
         console.log(JSON.stringify({ dirs, counts: dirs.map((d) => files[d].length), first, index: fs.readFileSync('/recordings/index.jsonl', 'utf8').split('\\n').filter(Boolean).length }));`,
      ),
    ) as { dirs: string[]; counts: number[]; first: string[]; index: number };
    assert.deepEqual(listing.dirs.sort(), topics);
    for (const count of listing.counts) assert.ok(count > 0);
    for (const head of listing.first) assert.equal(head, 'ffd8ff', 'a saved file is a JPEG');
    assert.ok(listing.index >= listing.counts.reduce((a, b) => a + b, 0));
  });

  test("two workers' results reach the recorder's results.jsonl, joined to saved frames", async () => {
    const read = async (): Promise<{ workers: string[]; lines: number; joined: number }> =>
      JSON.parse(
        await stack.exec(
          'recorder',
          'node',
          '-e',
          `const fs = require('fs');
           const lines = fs.existsSync('/recordings/results.jsonl') ? fs.readFileSync('/recordings/results.jsonl', 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
           console.log(JSON.stringify({ workers: [...new Set(lines.map((l) => l.worker))], lines: lines.length, joined: lines.filter((l) => l.file).length }));`,
        ),
      ) as { workers: string[]; lines: number; joined: number };
    const results = await poll(async () => {
      const now = await read();
      return now.workers.length === 2 && now.joined > 0 ? now : undefined;
    }, 2 * MINUTE, 'results from 2 workers in results.jsonl');
    assert.equal(results.workers.length, 2);
    assert.ok(results.lines >= results.joined);
  });

  test('the gateway lists the three streams and serves their snapshots; the viewer page loads', async () => {
    const topics = await poll(async () => {
      const live = await liveTopics();
      return live.length === 3 ? live : undefined;
    }, MINUTE, 'three live streams on the gateway');
    const address = await stack.published('hub', 8081);
    for (const topic of topics) {
      const response = await fetch(`http://${address}/snapshot/${topic}.jpg?token=${TOKEN}`);
      assert.equal(response.status, 200);
      const jpeg = Buffer.from(await response.arrayBuffer());
      assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
    }
    const web = await stack.published('web', 8080);
    const page = await fetch(`http://${web}/?token=${TOKEN}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
  });

  test('the programs run as a non-root user and report healthy', async () => {
    for (const service of ['hub', 'camera', 'worker', 'recorder', 'web']) {
      assert.notEqual((await stack.exec(service, 'id', '-u')).trim(), '0', `${service} runs as root`);
    }
    const [hub] = await stack.containers('hub');
    await poll(async () => ((await sh('docker', ['inspect', '--format', '{{.State.Health.Status}}', hub!])).trim() === 'healthy' ? true : undefined), 2 * MINUTE, 'the hub to report healthy');
  });

  test('scaled down to one camera, one stream stays live', async () => {
    await stack.compose('up', '--detach', '--no-recreate', '--scale', 'camera=1');
    assert.equal((await stack.containers('camera')).length, 1);
    const live = await poll(async () => {
      const topics = await liveTopics();
      return topics.length === 1 ? topics : undefined;
    }, MINUTE, 'exactly one live stream');
    assert.equal(live.length, 1);
  });

  test('after the hub restarts, the camera and the recorder resume on their own', async () => {
    const before = await stack.waitForJson('recorder', (r) => Number(r.frames) > 0, MINUTE, 'frames arrive');
    await stack.compose('restart', '--timeout', '5', 'hub');
    // Frames counted after the restart: the remaining camera reconnected to the new hub, and so did the recorder.
    await stack.waitForJson('recorder', (r) => Number(r.frames) > Number(before.frames) && Number(r.fps) > 0, 2 * MINUTE, 'frames flow again after the hub restart');
    await poll(async () => ((await liveTopics()).length === 1 ? true : undefined), MINUTE, 'the stream live on the restarted hub');
  });

  test('docker stop ends every program cleanly (exit code 0, not a kill after the grace period)', async () => {
    const ids = await stack.containers();
    await stack.compose('stop', '--timeout', '10');
    for (const id of ids) {
      const [name, code] = (await sh('docker', ['inspect', '--format', '{{.Name}} {{.State.ExitCode}}', id])).trim().split(' ');
      assert.equal(code, '0', `${name} exited with ${code}`);
    }
  });

  test('taking the stack down leaves no containers, networks or volumes behind', async () => {
    await stack.compose('down', '--volumes', '--remove-orphans', '--timeout', '5');
    const label = `label=com.docker.compose.project=${PROJECT}`;
    assert.equal((await sh('docker', ['ps', '--all', '--quiet', '--filter', label])).trim(), '');
    assert.equal((await sh('docker', ['network', 'ls', '--quiet', '--filter', label])).trim(), '');
    assert.equal((await sh('docker', ['volume', 'ls', '--quiet', '--filter', label])).trim(), '');
  });

  test('the same compose file as a Swarm stack (one node): 2 cameras and 2 worker replicas, results at the recorder', async () => {
    const info = (await sh('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();
    assert.equal(info, 'inactive', 'this daemon is not in a swarm already (the test makes and leaves its own)');
    const name = `zerocam-swarm-test-${process.pid}`;
    const [senders, receivers, workers, results, http, web] = await freePorts(6);
    const env = {
      ZEROCAM_TAG: TAG,
      ZEROCAM_TOKEN: TOKEN,
      ZEROCAM_SWARM_CAMERAS: '2',
      ZEROCAM_SWARM_WORKERS: '2',
      ZEROCAM_SENDERS_PORT: String(senders),
      ZEROCAM_RECEIVERS_PORT: String(receivers),
      ZEROCAM_WORKERS_PORT: String(workers),
      ZEROCAM_RESULTS_PORT: String(results),
      ZEROCAM_HUB_HTTP_PORT: String(http),
      ZEROCAM_WEB_PORT: String(web),
    };
    const hadGatewayBridge = (await sh('docker', ['network', 'ls', '--quiet', '--filter', 'name=^docker_gwbridge$'])).trim() !== '';
    await sh('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    try {
      await sh('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', 'compose.yaml', '-c', 'deploy/swarm/stack.yaml', name], env);
      const recorder = async (): Promise<string | undefined> =>
        (await sh('docker', ['ps', '--quiet', '--filter', `label=com.docker.swarm.service.name=${name}_recorder`])).trim().split('\n')[0] || undefined;
      const seen = await poll(async () => {
        const id = await recorder();
        if (!id) return undefined;
        const out = await sh('docker', [
          'exec',
          id,
          'node',
          '-e',
          `const fs = require('fs'); const f = '/recordings/results.jsonl';
           const lines = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
           console.log(JSON.stringify({ workers: [...new Set(lines.map((l) => l.worker))], topics: [...new Set(lines.map((l) => l.topic))] }));`,
        ]);
        const now = JSON.parse(out) as { workers: string[]; topics: string[] };
        return now.workers.length === 2 && now.topics.length === 2 ? now : undefined;
      }, 3 * MINUTE, 'results of 2 streams from 2 worker replicas at the recorder');
      assert.equal(seen.workers.length, 2);
    } finally {
      await sh('docker', ['stack', 'rm', name]).catch((error: unknown) => console.error(String(error)));
      await poll(async () => ((await sh('docker', ['ps', '--all', '--quiet', '--filter', `label=com.docker.stack.namespace=${name}`])).trim() === '' ? true : undefined), MINUTE, 'the stack removed').catch(
        (error: unknown) => console.error(String(error)),
      );
      await sh('docker', ['swarm', 'leave', '--force']);
      await poll(async () => ((await sh('docker', ['network', 'ls', '--quiet', '--filter', `label=com.docker.stack.namespace=${name}`])).trim() === '' ? true : undefined), MINUTE, 'its network removed').catch(
        (error: unknown) => console.error(String(error)),
      );
      await sh('docker', ['volume', 'rm', `${name}_recordings`]).catch(() => undefined);
      // swarm init made it, and leaving does not remove it.
      if (!hadGatewayBridge) await sh('docker', ['network', 'rm', 'docker_gwbridge']).catch((error: unknown) => console.error(String(error)));
    }
  });
});
