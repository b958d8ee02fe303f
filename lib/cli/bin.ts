#!/usr/bin/env node
/**
 * The `netns-native` executable (package.json "bin"): runs the command line and exits with its status.
 * @module
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
