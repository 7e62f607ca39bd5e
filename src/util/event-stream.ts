/**
 * Turns callback-style work into an async iterable of events that ends with the result.
 * The work starts on the first next(); leaving the loop early aborts it through `signal`.
 */
export function eventStream<E, R>(
  start: (emit: (event: E) => void, signal: AbortSignal) => Promise<R>,
  resultEvent: (result: R) => E,
): AsyncIterable<E> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<E> {
      const controller = new AbortController();
      const buffer: E[] = [];
      let waiting: ((r: IteratorResult<E>) => void) | null = null;
      let failWaiting: ((e: unknown) => void) | null = null;
      let finished = false;
      let failure: { error: unknown } | null = null;
      let started: Promise<void> | null = null;

      const push = (event: E) => {
        if (waiting) {
          const w = waiting;
          waiting = failWaiting = null;
          w({ value: event, done: false });
        } else buffer.push(event);
      };
      const begin = () => {
        started = start(push, controller.signal).then(
          (result) => {
            push(resultEvent(result));
            finished = true;
            if (waiting) {
              const w = waiting;
              waiting = failWaiting = null;
              w({ value: undefined, done: true });
            }
          },
          (error) => {
            failure = { error };
            finished = true;
            if (failWaiting) {
              const f = failWaiting;
              waiting = failWaiting = null;
              f(error);
            }
          },
        );
      };

      return {
        next(): Promise<IteratorResult<E>> {
          if (!started) begin();
          if (buffer.length) return Promise.resolve({ value: buffer.shift() as E, done: false });
          if (failure) {
            const f = failure;
            failure = null;
            return Promise.reject(f.error);
          }
          if (finished) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve, reject) => {
            waiting = resolve;
            failWaiting = reject;
          });
        },
        async return(): Promise<IteratorResult<E>> {
          if (!finished) controller.abort();
          // Wait for the work to wind down so the caller can reuse the model right after.
          await started?.catch(() => {});
          finished = true;
          buffer.length = 0;
          return { value: undefined, done: true };
        },
      };
    },
  };
}
