#!/usr/bin/env bash
# `make demo` part for dmaheap run: unmodified programs allocating from an emulated
# /dev/dma_heap on a machine whose kernel has none. Usage: demo-run.sh BUILD
set -euo pipefail
build=$(realpath "${1:-build}")
echo "\$ ls /dev/dma_heap        # this machine's kernel"
ls /dev/dma_heap 2>&1 || true
echo
echo "\$ dmaheap run -- ls -l /dev/dma_heap"
"$build/dmaheap" run -- ls -l /dev/dma_heap
echo
echo "\$ dmaheap run -- python3 -c '<DMA_HEAP_IOCTL_ALLOC of 1 MiB on /dev/dma_heap/system>'"
"$build/dmaheap" run -- python3 -c '
import fcntl, os, struct
heap = os.open("/dev/dma_heap/system", os.O_RDONLY | os.O_CLOEXEC)
arg = bytearray(struct.pack("QIIQ", 1 << 20, 0, os.O_RDWR | os.O_CLOEXEC, 0))
fcntl.ioctl(heap, 0xC0184800, arg)  # DMA_HEAP_IOCTL_ALLOC
fd = struct.unpack("QIIQ", arg)[1]
print("dma-buf fd", fd, "size", os.lseek(fd, 0, os.SEEK_END))
try:
    fcntl.ioctl(heap, 0xC0184800, bytearray(struct.pack("QIIQ", 0, 0, os.O_RDWR, 0)))
except OSError as e:
    print("length 0 ->", e.strerror, "(the kernel says EINVAL too)")
' 2>&1 || echo "(python3 not installed)"
echo
echo "\$ dmaheap run -- dmaheap-conformance-static     # a statically linked program, raw syscalls"
"$build/dmaheap" run -- "$build/dmaheap-conformance-static" | tail -n 1
echo
echo "\$ dmaheap run --kernel 6.12 -- dmaheap-conformance   # the heaps a 6.12 kernel would make"
"$build/dmaheap" run --kernel 6.12 -- "$build/dmaheap-conformance" | grep -E '^# heap|passed'
