/**
 * A FIFO that runs at most `width` tasks at once.
 *
 * Namespace creation and deletion go through one such lane of width 2. The kernel serializes most
 * of that work (setup_net and cleanup_net take pernet_ops_rwsem and the RTNL), so more parallel
 * creators only add runnable threads next to the JS thread: 4 at once starved the event loop on 2
 * cores (p99 delay 5-8 ms against 2-4 ms). One at a time leaves the kernel idle between two
 * creations while the result travels to the JS thread and the next request back to a worker — a
 * gap that grows whenever the JS thread is busy. Two keep one creation queued in the kernel behind
 * the other: 200 create+delete in 145-153 ms against 208-360 ms with one, p99 delay 2.7-3.0 ms
 * against 2.1-2.5 ms; the 200-pod CNI workload 25-35 % faster. See docs/performance.md.
 * @module
 */
export class Lane {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly width: number) {}

  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        task().then(resolve, reject).finally(() => {
          this.running--;
          this.queue.shift()?.();
        });
      };
      if (this.running < this.width) start();
      else this.queue.push(start);
    });
  }
}

/** The lane of namespace create/delete/pin operations. */
export const namespaceLane = new Lane(2);
