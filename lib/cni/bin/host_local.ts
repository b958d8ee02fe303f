#!/usr/bin/env node
// netns-native-host-local: the host-local IPAM plugin (what netns-native-bridge runs in-process).
// No top-level await: scripts/bundle-bins.mjs bundles this entry as CommonJS (docs/cni.md "Speed").
void import('../main.js').then(({ main }) => main('host-local')).then((code) => { process.exitCode = code; });
