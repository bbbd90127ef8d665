# An OCI bundle's config.json (src/oci/spec.cpp).
moat_fuzzer(fuzz_oci_spec ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_oci_spec.cpp moat_oci)
# /etc/moat/oci.toml and the label annotations (src/oci/settings.cpp, labels.cpp).
moat_fuzzer(fuzz_oci_settings ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_oci_settings.cpp moat_oci)
