/**
 * Promise wrappers over the addon's callback functions, turning addon errors into typed errors that
 * say what was being done.
 * @module
 */
import { NetnsError, ValidationError, fromNative, withCallerFrames } from './errors.js';
import { native, type Callback, type NativeAddon } from './native.js';

/** Call an addon function whose last argument is a node-style callback. */
export function callNative<T>(operation: string, fn: (addon: NativeAddon, cb: Callback<T>) => void): Promise<T> {
  const call = new Promise<T>((resolve, reject) => {
    try {
      fn(native(), (err, value) => {
        if (err) reject(fromNative(err, operation));
        else resolve(value as T);
      });
    } catch (e) {
      // The addon's own argument checks throw synchronously (a TypeError): still a NetnsError, so
      // every failure of the library is one (docs/errors.md).
      if (e instanceof NetnsError) reject(e);
      else if (e instanceof TypeError) reject(new ValidationError('argument', undefined, `${operation}: ${e.message}`));
      else if (e instanceof Error && typeof (e as { errno?: unknown }).errno === 'number') reject(fromNative(e as Parameters<typeof fromNative>[0], operation));
      else reject(new NetnsError(`${operation}: ${String(e)}`, { code: 'ERR_INTERNAL', operation, cause: e }));
    }
  });
  return withCallerFrames(call);
}
