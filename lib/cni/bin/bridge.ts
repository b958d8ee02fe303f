#!/usr/bin/env node
// netns-native-bridge: the CNI bridge plugin. Only the dispatcher is loaded up front; the library is
// imported once the command is known (start-up time is most of a plugin's cost). No top-level
// await: scripts/bundle-bins.mjs turns this entry into a CommonJS bundle (docs/cni.md "Speed").
void import('../main.js').then(({ main }) => main('bridge')).then((code) => { process.exitCode = code; });
