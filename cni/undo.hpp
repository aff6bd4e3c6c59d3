#pragma once
// Steps to take back if a command fails half-way: run newest first unless dismissed.
#include <exception>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "twill/sys/log.hpp"

namespace twill::plugin {

class Undo {
  public:
    Undo() = default;
    Undo(const Undo&) = delete;
    Undo& operator=(const Undo&) = delete;
    ~Undo() {
        for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
            try {
                it->second();
            } catch (const std::exception& e) {
                // The original error is what the runtime must see; this one only goes to the log.
                sys::log(sys::LogLevel::warn, "undo " + it->first + ": " + e.what());
            }
        }
    }

    void push(std::string what, std::function<void()> step) {
        steps_.emplace_back(std::move(what), std::move(step));
    }
    void dismiss() { steps_.clear(); }

  private:
    std::vector<std::pair<std::string, std::function<void()>>> steps_;
};

}  // namespace twill::plugin
