# Fuzz target for the command line's value parsers (src/cli/options.cpp).
moat_fuzzer(fuzz_cli_options ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_cli_options.cpp moat_cli_options)
