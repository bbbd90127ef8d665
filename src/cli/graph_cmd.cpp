#include "cli/graph_cmd.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "monitor/manifest_file.hpp"
#include "policy/plan.hpp"

namespace moat::cli {

namespace {

// A DOT string literal: quotes and backslashes escaped, control bytes dropped.
std::string q(const std::string& s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
        else if (c == '\n') out += "\\n";
    }
    return out + "\"";
}

std::string label_of(const policy::Manifest& m, const policy::Label& l) { return policy::format_label(m.lattice, l); }

// Attributes for one decision's edge: its text, and red and dashed when denied.
std::string edge_style(const policy::PlannedDecision& d, const std::string& text)
{
    if (d.decision.verdict == policy::Verdict::Allow) return "label=" + q(text);
    return "label=" + q(text + "\ndenied: " + policy::rule_name(d.decision.rule)) + ", color=red, fontcolor=red, style=dashed";
}

}  // namespace

std::string system_graph(const policy::Manifest& m)
{
    std::string g = "digraph " + q(m.source) + " {\n  rankdir=LR;\n  node [fontname=\"sans\"];\n  edge [fontname=\"sans\", fontsize=10];\n";
    for (const auto& vm : m.vms)
        g += "  " + q("vm " + vm.name) + " [shape=box, label=" +
             q(vm.name + "\n" + label_of(m, vm.label) + "\nCID " + std::to_string(vm.cid)) + "];\n";
    for (const auto& v : m.volumes)
        g += "  " + q("volume " + v.name) + " [shape=cylinder, label=" + q(v.name + "\n" + label_of(m, v.label)) + "];\n";
    for (const auto& n : m.networks)
        g += "  " + q("network " + n.name) + " [shape=hexagon, label=" +
             q(n.name + "\n" + label_of(m, n.label) + "\n" + base::format_ipv4(n.subnet.base) + "/" +
               std::to_string(n.subnet.prefix)) +
             "];\n";
    if (std::any_of(m.networks.begin(), m.networks.end(), [](const auto& n) { return n.uplink.has_value(); }))
        g += "  \"outside world\" [shape=plaintext];\n";
    const auto decisions = policy::plan(m);
    std::size_t channel = 0;
    for (const auto& d : decisions) {
        const std::string vm = q("vm " + d.vm);
        if (d.act == policy::Act::ReadVolume || d.act == policy::Act::ReadWriteVolume) {
            const bool rw = d.act == policy::Act::ReadWriteVolume;
            g += "  " + q(d.object) + " -> " + vm + " [" + edge_style(d, rw ? "read-write" : "read-only") +
                 (rw ? ", dir=both" : "") + "];\n";
            continue;
        }
        if (d.act == policy::Act::NetworkAttach) {
            g += "  " + vm + " -> " + q(d.object) + " [" + edge_style(d, "joins") + ", dir=both];\n";
            continue;
        }
        if (d.act == policy::Act::NetworkUplink) {
            g += "  " + q("network " + d.vm) + " -> \"outside world\" [" + edge_style(d, d.object) + ", dir=both];\n";
            continue;
        }
        const auto& c = m.channels[channel++];
        const std::string to = q("vm " + c.to), port = "port " + std::to_string(c.port);
        if (c.kind == policy::ChannelKind::BothWays) {
            g += "  " + vm + " -> " + to + " [" + edge_style(d, "channel " + port) + ", dir=both];\n";
            continue;
        }
        const std::string pump = q("pump " + c.from + " " + c.to + " " + std::to_string(c.port));
        std::string text = "pump " + port;
        if (c.rate) text += '\n' + std::to_string(c.rate) + " B/s";
        g += "  " + pump + " [shape=diamond, label=" + q(text) + "];\n";
        g += "  " + vm + " -> " + pump + " [" + edge_style(d, "one way") + "];\n";
        g += "  " + pump + " -> " + to + " [" + edge_style(d, "one way") + "];\n";
    }
    return g + "}\n";
}

int policy_graph_main(const std::string& manifest, const std::string& svg)
{
    auto loaded = monitor::load_manifest(manifest);
    if (!loaded) {
        std::fprintf(stderr, "moat: %s\n", describe(loaded.error()).c_str());
        return 2;
    }
    const std::string dot = system_graph(loaded->manifest);
    if (svg.empty()) {
        std::fputs(dot.c_str(), stdout);
        return 0;
    }
    // dot reads the graph on its stdin and writes the SVG itself.
    const std::string cmd = "dot -Tsvg -o '" + svg + "'";
    if (svg.find('\'') != std::string::npos) {
        std::fprintf(stderr, "moat: --svg '%s': a path with a quote is not supported\n", svg.c_str());
        return 2;
    }
    FILE* p = ::popen(cmd.c_str(), "w");
    if (!p) {
        std::fprintf(stderr, "moat: cannot run Graphviz's dot: %s\n", std::strerror(errno));
        return 1;
    }
    std::fputs(dot.c_str(), p);
    const int status = ::pclose(p);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "moat: Graphviz's dot failed%s (is the graphviz package installed?)\n",
                     WIFEXITED(status) && WEXITSTATUS(status) == 127 ? ": not found" : "");
        return 1;
    }
    return 0;
}

}  // namespace moat::cli
