#!/usr/bin/env node
// netns-native-cni-agent: the resident agent the native netns-native-bridge executable hands its
// invocations to (docs/cni.md "The agent and its shim"). No top-level await: scripts/bundle-bins.mjs
// bundles this entry as CommonJS.
void import('../agent_main.js').then(({ agentMain }) => agentMain(process.argv.slice(2)));
