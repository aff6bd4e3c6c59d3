#include <malloc.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "daemon.hpp"
#include "logging.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
    // gRPC runs many threads; glibc's default of one malloc arena per thread (up to 8 per
    // core) multiplies the resident size for nothing a node agent needs.
    ::mallopt(M_ARENA_MAX, 2);
    auto parsed = twill::daemon::parse_options(argc, argv);
    if (!parsed.options) return parsed.exit_code;
    try {
        twill::daemon::setup_logging(parsed.options->log_level, parsed.options->log_format);
        twill::daemon::Daemon daemon(*parsed.options);
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        std::cerr << "twilld: " << e.what() << "\n";
        return 1;
    }
}
