# Fuzz targets for the boot-image parsers (src/boot/): bzImage setup header and ELF64 headers.
moat_fuzzer(fuzz_bzimage ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bzimage.cpp moat_boot)
moat_fuzzer(fuzz_elf ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_elf.cpp moat_boot)
