// The control socket's protocol: one JSON object per line (DESIGN.md "Process model").
//
// Requests are flat objects of string values, e.g. {"cmd":"stop","vm":"web"}. The monitor
// reads them with the small parser below instead of a JSON library: the grammar it accepts is
// a strict subset of JSON (an object, string keys, string values, the escapes \" \\ \/ \n \t
// and \u00XX), which is all a client needs, and it keeps the trusted base free of a general
// parser. Replies are written with json_string() and friends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace moat::monitor {

inline constexpr std::size_t k_max_request = 1024;  // bytes in one request line

enum class Command : std::uint8_t { Ls, Stop, Down, Console };

struct Request {
    Command cmd;
    std::string vm;  // Stop and Console; empty otherwise
};

// Parses one request line (without its '\n'). Unknown commands, unknown or repeated keys, a
// missing or unexpected "vm", and anything outside the accepted grammar are InvalidInput.
Result<Request> parse_request(std::string_view line);

const char* to_string(Command c);

// `text` as a JSON string literal, quotes included, escaped as the audit log escapes.
std::string json_string(std::string_view text);

}  // namespace moat::monitor
