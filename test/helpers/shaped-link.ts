import { execFileSync } from 'node:child_process';

let counter = 0;

/**
 * Two network namespaces joined by a veth pair, the sender's end shaped with tc tbf: a slow link
 * that exists only for one test. Addresses are private and live only inside these namespaces, so
 * no test traffic can leave them. Names are unique per process and link, as other test runs may
 * shape links of their own at the same time.
 */
export class ShapedLink {
  readonly senderAddress = '10.211.0.1';
  readonly receiverAddress = '10.211.0.2';
  private removed = false;
  private readonly removeOnExit = (): void => this.remove();
  /** Killed (a test runner's timeout, Ctrl-C): remove the link, then die of the signal as we would have. */
  private readonly removeOnSignal = (signal: NodeJS.Signals): void => {
    this.remove();
    process.kill(process.pid, signal);
  };

  private constructor(
    readonly senderNamespace: string,
    readonly receiverNamespace: string,
    private readonly senderDevice: string,
  ) {
    process.on('exit', this.removeOnExit);
    process.once('SIGINT', this.removeOnSignal);
    process.once('SIGTERM', this.removeOnSignal);
  }

  /**
   * Builds the link, its sender side limited to `rate` (tc syntax: 8mbit). Throws with one line if
   * namespaces cannot be made here (not root, no iproute2); whatever was made is removed first.
   */
  static create(rate: string): ShapedLink {
    const id = `${process.pid.toString(36)}${(++counter).toString(36)}`;
    const link = new ShapedLink(`zcslow-s-${id}`, `zcslow-r-${id}`, `zcs${id}`.slice(0, 15));
    const receiverDevice = `zcr${id}`.slice(0, 15);
    try {
      ip('netns', 'add', link.senderNamespace);
      ip('netns', 'add', link.receiverNamespace);
      ip('link', 'add', link.senderDevice, 'netns', link.senderNamespace, 'type', 'veth', 'peer', 'name', receiverDevice, 'netns', link.receiverNamespace);
      for (const [ns, device, address] of [
        [link.senderNamespace, link.senderDevice, link.senderAddress],
        [link.receiverNamespace, receiverDevice, link.receiverAddress],
      ] as const) {
        ip('-n', ns, 'addr', 'add', `${address}/30`, 'dev', device);
        ip('-n', ns, 'link', 'set', device, 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
      }
      link.shape(rate);
    } catch (error) {
      link.remove();
      throw error;
    }
    return link;
  }

  /** Sets (or changes, mid-stream) the sender side's rate. */
  shape(rate: string): void {
    execFileSync('ip', ['netns', 'exec', this.senderNamespace, 'tc', 'qdisc', 'replace', 'dev', this.senderDevice, 'root', 'tbf', 'rate', rate, 'burst', '32kbit', 'latency', '50ms'], { stdio: 'pipe' });
  }

  /** The command prefix that runs a program inside one end's namespace. */
  launcher(end: 'sender' | 'receiver'): string[] {
    return ['ip', 'netns', 'exec', end === 'sender' ? this.senderNamespace : this.receiverNamespace];
  }

  /** Idempotent; deleting a namespace deletes its end of the veth pair, and with it the other end. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    process.off('exit', this.removeOnExit);
    process.off('SIGINT', this.removeOnSignal);
    process.off('SIGTERM', this.removeOnSignal);
    for (const ns of [this.senderNamespace, this.receiverNamespace]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Never made (creation failed part way).
      }
    }
  }
}

/** Why shaped links cannot be made here, or undefined if they can. */
export function shapedLinksUnavailable(): string | undefined {
  try {
    ShapedLink.create('8mbit').remove();
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `cannot make network namespaces with shaped links here (needs root and iproute2): ${stderr || String(error)}`.split('\n')[0];
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}
