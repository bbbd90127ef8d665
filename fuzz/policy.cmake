# Fuzz target for the system manifest parser and the decision plan (src/policy/).
moat_fuzzer(fuzz_manifest ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_manifest.cpp moat_policy)
