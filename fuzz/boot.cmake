# Fuzz targets for the boot-image parsers (src/boot/): bzImage setup header and ELF64 headers,
# and the kernel check against the loader.
moat_fuzzer(fuzz_bzimage ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_bzimage.cpp moat_boot)
moat_fuzzer(fuzz_elf ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_elf.cpp moat_boot)
# check_kernel against load_kernel: `moat run`'s early check decides as the loader does.
moat_fuzzer(fuzz_kernel_check ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_kernel_check.cpp moat_boot)
