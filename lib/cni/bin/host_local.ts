#!/usr/bin/env node
// netns-native-host-local: the host-local IPAM plugin (what netns-native-bridge runs in-process).
const { main } = await import('../main.js');
process.exitCode = await main('host-local');
