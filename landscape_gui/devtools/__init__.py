"""Developer tools: benchmarks (``landscape-gui bench``), the hostile-formula fuzzer and the
screenshot gallery (``landscape-gui gallery``)."""
