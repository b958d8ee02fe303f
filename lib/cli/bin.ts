#!/usr/bin/env node
/**
 * The `netns-native` executable (package.json "bin"): runs the command line and exits with its status.
 * No top-level await: scripts/bundle-bins.mjs bundles this entry as CommonJS (docs/cli.md).
 * @module
 */
import { main } from './main.js';

void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
