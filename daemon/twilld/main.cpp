#include <malloc.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "daemon.hpp"
#include "leave_marker.hpp"
#include "logging.hpp"
#include "options.hpp"
#include "uninstall.hpp"

int main(int argc, char** argv) {
    // gRPC runs many threads; glibc's default of one malloc arena per thread (up to 8 per
    // core) multiplies the resident size for nothing a node agent needs.
    ::mallopt(M_ARENA_MAX, 2);
    auto parsed = twill::daemon::parse_options(argc, argv);
    if (!parsed.options) return parsed.exit_code;
    try {
        twill::daemon::setup_logging(parsed.options->log_level, parsed.options->log_format);
        if (parsed.options->uninstall) return twill::daemon::run_uninstall(*parsed.options);
        if (parsed.options->join && twill::daemon::has_left(parsed.options->state_dir)) {
            twill::daemon::remove_leave_marker(parsed.options->state_dir);
            spdlog::info("--join: removed {}",
                         twill::daemon::leave_marker_path(parsed.options->state_dir).string());
        }
        twill::daemon::Daemon daemon(*parsed.options);
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        std::cerr << "twilld: " << e.what() << "\n";
        return 1;
    }
}
