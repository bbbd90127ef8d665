// `moat policy graph`: a system as Graphviz DOT — VMs and volumes with their labels, disks and
// channels as edges, every denied edge drawn and marked with its rule.
#pragma once

#include <string>

#include "policy/manifest.hpp"

namespace moat::cli {

// The DOT text for `m`: every decision of policy::plan() is one edge (a pump is a node of its own
// between its two VMs); a denied one is red and dashed and names its rule.
std::string system_graph(const policy::Manifest& m);

// Prints the graph of MANIFEST, or renders it with Graphviz's `dot` to `svg` when that is not
// empty. Returns the exit status (2 for a bad manifest, 1 when `dot` fails).
int policy_graph_main(const std::string& manifest, const std::string& svg);

}  // namespace moat::cli
