/**
 * Promise wrappers over the addon's callback functions, turning addon errors into typed errors that
 * say what was being done.
 * @module
 */
import { fromNative } from './errors.js';
import { native, type Callback, type NativeAddon } from './native.js';

/** Call an addon function whose last argument is a node-style callback. */
export function callNative<T>(operation: string, fn: (addon: NativeAddon, cb: Callback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn(native(), (err, value) => {
      if (err) reject(fromNative(err, operation));
      else resolve(value as T);
    });
  });
}
