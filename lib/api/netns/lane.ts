/**
 * A FIFO that runs at most `width` tasks at once.
 *
 * Namespace creation and deletion go through one such lane of width 1. The kernel serializes them
 * anyway (setup_net and cleanup_net take pernet_ops_rwsem and the RTNL), so running several in
 * parallel gains almost nothing (215 ms vs 270 ms for 200 create+delete here) while it puts several
 * more runnable threads next to the JS thread: on a 2-core machine that starved the event loop
 * (p99 delay 5-8 ms with 4 in parallel against 2-4 ms with one). See docs/architecture.md.
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
export const namespaceLane = new Lane(1);
