{
  "targets": [
    {
      "target_name": "insalun",
      "sources": [
        "native/core/backend.cpp",
        "native/core/resnet.cpp",
        "native/core/engine.cpp",
        "native/core/capture_emulator.cpp",
        "native/core/kernel_bench.cpp",
        "native/cpu/gemm.cpp",
        "native/cpu/conv.cpp",
        "native/cpu/conv_direct.cpp",
        "native/cpu/batchnorm.cpp",
        "native/cpu/ops.cpp",
        "native/cpu/data.cpp",
        "native/cpu/factory.cpp",
        "native/cpu/isa.cpp",
        "native/addon/addon.cpp",
        "native/addon/op_bindings.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions"],
      "conditions": [
        [
          "target_arch=='x64'",
          {
            "cflags_cc": ["-march=<!(node -p \"process.env.INSALUN_CPU_ARCH || 'x86-64-v3'\")"],
            "defines": ["INSALUN_CPU_ARCH_STRING=\"<!(node -p \"process.env.INSALUN_CPU_ARCH || 'x86-64-v3'\")\""]
          },
          { "cflags_cc": ["-march=native"], "defines": ["INSALUN_CPU_ARCH_STRING=\"native\""] }
        ]
      ],
      "ldflags": ["-fopenmp"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-Xpreprocessor", "-fopenmp"]
      }
    }
  ]
}
