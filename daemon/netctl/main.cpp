// netctl: status, peers, drift check, leave and evict, asked of the local twilld over
// <run-dir>/twilld.sock. Exit codes (docs/operations.md): 0 fine, 1 a difference or problem
// found, 2 usage error, 3 the daemon cannot be reached.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <twill/api/client.hpp>
#include <twill/api/server.hpp>

#include "output.hpp"
#include "printable.hpp"

namespace {

enum ExitCode : int { exit_ok = 0, exit_problem = 1, exit_usage = 2, exit_unreachable = 3 };

struct Options {
    std::string run_dir = "/run/twill";
    bool json = false;
    bool probe = false;
    std::string node;
};

void print(const Options& options, const google::protobuf::Message& reply,
           const std::function<void(std::ostream&)>& human) {
    if (options.json)
        std::cout << twill::netctl::to_json(reply) << '\n';
    else
        human(std::cout);
}

int run(const std::string& command, const Options& options) {
    twill::api::Client client(twill::api::socket_path(options.run_dir));
    if (command == "status") {
        const auto status = client.status();
        print(options, status,
              [&](std::ostream& out) { twill::netctl::print_status(out, status); });
        return status.ready() ? exit_ok : exit_problem;
    }
    if (command == "peers") {
        const auto peers = client.peers();
        print(options, peers, [&](std::ostream& out) { twill::netctl::print_peers(out, peers); });
        return exit_ok;
    }
    if (command == "check") {
        const auto check = client.check(options.probe);
        print(options, check, [&](std::ostream& out) { twill::netctl::print_check(out, check); });
        return check.in_sync() && check.differences().empty() && twill::netctl::all_reachable(check)
                   ? exit_ok
                   : exit_problem;
    }
    if (command == "leave") {
        std::cout << twill::netctl::printable(client.leave().message()) << '\n';
        return exit_ok;
    }
    if (command == "join") {
        std::cout << twill::netctl::printable(client.join().message()) << '\n';
        return exit_ok;
    }
    // evict
    const auto reply = client.evict(options.node);
    std::cout << twill::netctl::printable(reply.message()) << '\n';
    return reply.found() ? exit_ok : exit_problem;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{"netctl: ask the local twilld about this node's overlay network"};
    app.set_version_flag("--version", std::string("netctl ") + TWILL_VERSION);
    app.add_option("--run-dir", options.run_dir, "twilld's --run-dir, where twilld.sock is")
        ->envname("TWILL_RUN_DIR")
        ->capture_default_str();
    app.require_subcommand(1);

    auto* status = app.add_subcommand(
        "status", "This node: lease, subnet, backend, etcd, drift, peers (exit 1: not ready)");
    status->add_flag("--json", options.json, "Machine-readable output (docs/operations.md)");
    auto* peers =
        app.add_subcommand("peers", "Peer nodes and whether the kernel holds their entries");
    peers->add_flag("--json", options.json, "Machine-readable output (docs/operations.md)");
    auto* check = app.add_subcommand("check",
                                     "Compare the kernel with etcd now (exit 1: differences, or "
                                     "with --probe an unreachable peer)");
    check->add_flag("--json", options.json, "Machine-readable output (docs/operations.md)");
    check->add_flag(
        "--probe", options.probe,
        "Also probe every peer through the overlay now (exit 1: a peer is unreachable)");
    app.add_subcommand(
        "leave",
        "This node leaves for good: revoke its lease, remove twill's devices, stop twilld");
    app.add_subcommand("join",
                       "A node that left joins again: twilld acquires a lease (exit 1: it has not "
                       "left)");
    auto* evict = app.add_subcommand(
        "evict", "Delete a dead node's lease; every peer drops it (exit 1: no such node)");
    evict->add_option("NODE", options.node, "The node name")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version are "errors" with exit code 0; every real one is a usage error.
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }

    const std::string command = app.get_subcommands().front()->get_name();
    try {
        return run(command, options);
    } catch (const twill::api::UnreachableError& e) {
        std::cerr << "netctl: " << e.what() << '\n';
        return exit_unreachable;
    } catch (const twill::api::RpcError& e) {
        std::cerr << "netctl " << command << ": " << e.what() << '\n';
        return e.invalid_argument() ? exit_usage : exit_problem;
    } catch (const std::exception& e) {
        std::cerr << "netctl " << command << ": " << e.what() << '\n';
        return exit_problem;
    }
}
