#!/usr/bin/env node
// netns-native-bridge: the CNI bridge plugin. Only the dispatcher is loaded up front; the library is
// imported once the command is known (start-up time is most of a plugin's cost).
const { main } = await import('../main.js');
process.exitCode = await main('bridge');
