# The pump's framing: link records and answers from both sides, and its one-way promise.
moat_fuzzer(fuzz_pump pump/fuzz_pump.cpp moat_pump)
target_include_directories(fuzz_pump PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/virtio)
