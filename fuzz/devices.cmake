# The guest init's control lines on its serial port (src/devices/guest_control.cpp).
moat_fuzzer(fuzz_guest_control ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_guest_control.cpp moat_devices)
