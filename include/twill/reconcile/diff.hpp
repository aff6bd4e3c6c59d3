#pragma once
// The heart of level-triggered reconciliation: given the desired set of objects and the set
// dumped from the kernel, compute the minimal change. Objects are matched by key; a desired
// object whose key is present but whose value differs is replaced in place (never deleted and
// re-added), an actual object with no desired counterpart is deleted, and a desired object
// with no actual counterpart is added. Nothing else is touched, so applying the diff to a
// kernel that already matches changes nothing.
#include <algorithm>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace twill::reconcile {

template <class Object>
struct Replacement {
    Object actual;
    Object desired;
};

template <class Object>
struct Diff {
    std::vector<Object> add;
    std::vector<Replacement<Object>> replace;
    std::vector<Object> remove;

    bool empty() const { return add.empty() && replace.empty() && remove.empty(); }
    std::size_t size() const { return add.size() + replace.size() + remove.size(); }
};

// `key(o)` returns a hashable key; `same(a, b)` says whether two objects with equal keys need
// no change. Duplicate keys among the actual objects (the kernel can hold several FDB entries
// for one MAC) are all kept in view: the first that is `same` as the desired object is kept
// and the others are removed.
template <class Object, class KeyFn, class SameFn>
Diff<Object> compute_diff(const std::vector<Object>& desired, const std::vector<Object>& actual,
                          KeyFn key, SameFn same) {
    using Key = std::decay_t<decltype(key(std::declval<const Object&>()))>;
    std::unordered_multimap<Key, const Object*> actual_by_key;
    actual_by_key.reserve(actual.size());
    for (const auto& a : actual) actual_by_key.emplace(key(a), &a);

    Diff<Object> diff;
    std::unordered_map<Key, bool> desired_keys;
    desired_keys.reserve(desired.size());
    for (const auto& d : desired) {
        auto k = key(d);
        if (!desired_keys.emplace(k, true).second) continue;  // first desired object wins
        auto [begin, end] = actual_by_key.equal_range(k);
        if (begin == end) {
            diff.add.push_back(d);
            continue;
        }
        auto match =
            std::find_if(begin, end, [&](const auto& entry) { return same(*entry.second, d); });
        if (match == end) {
            diff.replace.push_back({*begin->second, d});
            match = begin;
        }
        for (auto it = begin; it != end; ++it) {
            if (it != match) diff.remove.push_back(*it->second);
        }
    }
    for (const auto& a : actual) {
        if (!desired_keys.contains(key(a))) diff.remove.push_back(a);
    }
    return diff;
}

}  // namespace twill::reconcile
