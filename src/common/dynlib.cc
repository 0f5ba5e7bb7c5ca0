#include "common/dynlib.h"

#include <dlfcn.h>

namespace skiff {

Result<void*> OpenSharedLibrary(const std::vector<std::string>& names, std::string_view what) {
  std::string last_error;
  for (const auto& name : names) {
    if (void* h = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    const char* e = ::dlerror();
    last_error = e != nullptr ? e : "unknown error";
  }
  std::string tried;
  for (const auto& name : names) tried += (tried.empty() ? "" : ", ") + name;
  return NotFound(std::string(what) + " is not available (tried " + tried + "): " + last_error);
}

Status BindSymbol(void* lib, const char* symbol, void** fn) {
  ::dlerror();
  *fn = ::dlsym(lib, symbol);
  if (*fn == nullptr) return NotFound(std::string("symbol ") + symbol + " not found");
  return OkStatus();
}

}  // namespace skiff
