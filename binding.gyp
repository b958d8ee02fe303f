{
  "targets": [
    {
      "target_name": "netns_native",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/js_queue.cc",
        "native/thread_pool.cc",
        "native/ns_guard.cc",
        "native/io_loop.cc",
        "native/ns_ops.cc",
        "native/ns_bindings.cc",
        "native/loop_socket.cc",
        "native/netlink_ops.cc",
        "native/bindings.cc",
        "native/dgram_ops.cc",
        "native/dgram_bindings.cc",
        "native/netlink_bindings.cc",
        "native/spawn_ops.cc",
        "native/spawn_bindings.cc",
        "native/sysctl_ops.cc",
        "native/inet_ops.cc",
        "native/pids_ops.cc",
        "native/ns_misc_bindings.cc",
        "native/file_lock_ops.cc",
        "native/file_lock_bindings.cc",
        "native/cni_agent_ops.cc",
        "native/cni_agent_bindings.cc",
        "native/slow_senders.cc",
        "native/veth_sweep.cc",
        "native/veth_sweep_bindings.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "_GNU_SOURCE"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fexceptions", "-fvisibility=hidden", "-fvisibility-inlines-hidden"],
      "libraries": ["-lpthread"]
    },
    {
      "target_name": "netns-native-bridge",
      "type": "executable",
      "sources": ["native/cni_shim.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "ldflags": ["-static-libgcc"]
    }
  ]
}
