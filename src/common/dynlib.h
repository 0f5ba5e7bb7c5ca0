// Shared libraries loaded when first needed instead of at every start of the binary: the
// PostgreSQL client (and the ~20 libraries it pulls in) and XGBoost are used by few commands,
// while the dynamic loader's cost of mapping and relocating them was paid by every `skiff`
// invocation, `skiff version` included.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace skiff {

// dlopen()s the first of `names` that loads (e.g. {"libpq.so.5", "libpq.so"}). The handle is
// never closed. NotFound names every candidate and dlerror()'s reason for the last one.
Result<void*> OpenSharedLibrary(const std::vector<std::string>& names, std::string_view what);

// Looks up `symbol` in `lib` into `fn`; NotFound names the symbol.
Status BindSymbol(void* lib, const char* symbol, void** fn);

template <typename F>
Status Bind(void* lib, const char* symbol, F*& fn) {
  void* p = nullptr;
  Status s = BindSymbol(lib, symbol, &p);
  fn = reinterpret_cast<F*>(p);
  return s;
}

}  // namespace skiff
