# virtio fuzz targets: the descriptor chain walker, the block request path, the MMIO registers,
# the vsock device over packet sequences, the virtio-net transmit header, and the virtio-net
# device over sequences of transmitted frames, receive buffers and frames from the tap.
moat_fuzzer(fuzz_virtio_chain virtio/fuzz_virtio_chain.cpp moat_virtio moat_virtio_testing)
moat_fuzzer(fuzz_virtio_block_request virtio/fuzz_virtio_block_request.cpp moat_virtio_block moat_virtio_testing)
moat_fuzzer(fuzz_virtio_mmio virtio/fuzz_virtio_mmio.cpp moat_virtio_block moat_virtio_testing)
moat_fuzzer(fuzz_virtio_vsock virtio/fuzz_virtio_vsock.cpp moat_virtio_vsock moat_virtio_testing)
moat_fuzzer(fuzz_virtio_net_header virtio/fuzz_virtio_net_header.cpp moat_virtio_net)
moat_fuzzer(fuzz_virtio_net virtio/fuzz_virtio_net.cpp moat_virtio_net moat_virtio_testing)
# A host program's CONNECT line to a vsock device's Unix socket (src/virtio/vsock/host_line.cpp).
moat_fuzzer(fuzz_vsock_connect_line virtio/fuzz_vsock_connect_line.cpp moat_virtio_vsock)
