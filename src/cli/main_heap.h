// The main thread's heap on transparent huge pages (see main_heap.cc).
#pragma once

namespace skiff::cli {

// Moves the calling thread's allocations (mimalloc's default heap for it) into an arena that the
// kernel backs with 2 MiB pages where it can. Call once, first thing in main(). A no-op without
// mimalloc, with SKIFF_HUGE_HEAP=0, or when the address space cannot be reserved.
void UseHugePageHeapForThisThread();

}  // namespace skiff::cli
