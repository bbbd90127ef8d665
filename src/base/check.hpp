// MOAT_CHECK: invariants that stay checked in release builds.
#pragma once

namespace moat {
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
}

#define MOAT_CHECK(cond) \
    ((cond) ? static_cast<void>(0) : ::moat::check_failed(#cond, __FILE__, __LINE__))
