#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

namespace twill::reconcile {

enum class Action { added, replaced, deleted };
std::string_view to_string(Action action);

// One change the reconciler made (or, in dry-run mode, would make).
struct Change {
    std::string kind;  // "link", "address", "route", "neighbour", "fdb"
    Action action;
    std::string object;  // as `ip` prints it
    std::string detail;  // for replacements: what differed
    // The desired object did not change since the last run: the kernel drifted (someone
    // deleted, edited or added an object of twill's). Otherwise the change follows etcd.
    bool drift = false;
};

struct Report {
    std::vector<Change> changes;
    std::vector<std::string> errors;  // failed operations, each naming the object and errno
    // Keys of desired objects that do not match the kernel after this run (dry run, or an
    // operation failed): the owner of a key is "not in kernel".
    std::unordered_set<std::string> unsettled;
    std::size_t desired = 0;
    std::size_t actual = 0;
    std::chrono::microseconds duration{0};

    void merge(Report&& other);
};

}  // namespace twill::reconcile
