#include <spdlog/spdlog.h>

#include <iostream>

#include "daemon.hpp"
#include "logging.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
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
