// `moat audit verify FILE` and `moat audit show FILE`: the user's view of the audit log.
#pragma once

#include <optional>
#include <string>

namespace moat::cli {

// Verifies the hash chain of the log at `path`. Prints "ok: N records" (status 0) or
// "audit: seq N (line L): why" (status 1) on stdout; a file that cannot be read prints
// "audit: 'PATH': reason" on stderr (status 2). `anchor` is an optional "SEQ:HASH" known
// from outside the file (a malformed anchor is status 2); with it, records cut from the end
// are detected too.
int audit_verify_main(const std::string& path);
int audit_verify_main(const std::string& path, const std::optional<std::string>& anchor);

// Prints the records of the log at `path` whose vm equals `vm` and whose event is `event` or
// below it ("vm" matches "vm.start"): one rendered line each, or the raw JSON lines if `raw`.
// Status 0, or 2 if the file cannot be read. Does not verify the chain.
int audit_show_main(const std::string& path, std::optional<std::string> vm, std::optional<std::string> event,
                    bool raw);

}  // namespace moat::cli
