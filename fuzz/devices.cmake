# The guest init's control lines on its serial port (src/devices/guest_control.cpp).
moat_fuzzer(fuzz_guest_control ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_guest_control.cpp moat_devices)
# The guest's port I/O on the UART, the i8042 and the ACPI sleep registers (src/devices/).
moat_fuzzer(fuzz_legacy_devices ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_legacy_devices.cpp moat_devices)
