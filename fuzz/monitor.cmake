# Fuzz target for the audit log reader (src/monitor/audit_verify.cpp): `moat audit` reads
# files anyone with access to the state directory could have edited.
moat_fuzzer(fuzz_audit_verify ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_audit_verify.cpp moat_monitor_tools)
# The control socket's request parser: the one parser of outside bytes inside the monitor.
moat_fuzzer(fuzz_control_request ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_control_request.cpp moat_monitor)
