# The launch message a VM process decodes (src/protocol/launch.cpp).
moat_fuzzer(fuzz_launch ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_launch.cpp moat_protocol)
