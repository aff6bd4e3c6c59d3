#pragma once
// The heart of level-triggered reconciliation: given the desired set of objects and the set
// dumped from the kernel, compute the minimal change. Objects are matched by key; a desired
// object whose key is present but whose value differs is replaced in place (never deleted and
// re-added), an actual object with no desired counterpart is deleted, and a desired object
// with no actual counterpart is added. Nothing else is touched, so applying the diff to a
// kernel that already matches changes nothing.
#include <algorithm>
#include <cstdint>
#include <string>
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

// `key(o)` returns the object's key as bytes (a std::string); `same(a, b)` says whether two
// objects with equal keys need no change. Duplicate keys among the actual objects (the kernel
// can hold several FDB entries for one MAC) are all kept in view: the first that is `same` as
// the desired object is kept and the others are removed. Among desired objects with equal keys
// the first counts.
//
// Both sides are sorted by key and walked side by side: at 10,000 peers a resync diffs 60,000
// objects, and a hash map's node per object cost more in malloc than the comparison itself.
// What is sorted is the key's first 16 bytes as two integers beside pointers to the key and
// the object, and the keys themselves are compared only where those tie: moving and comparing
// whole strings was most of the sorts' time.
template <class Object, class KeyFn, class SameFn>
Diff<Object> compute_diff(const std::vector<Object>& desired, const std::vector<Object>& actual,
                          KeyFn key, SameFn same) {
    struct Keyed {
        std::uint64_t high = 0, low = 0;  // the key's first 16 bytes, big-endian, zero-padded
        const std::string* key;
        const Object* object;  // within one key, in the order of its vector
    };
    const auto before = [](const Keyed& a, const Keyed& b) {
        if (a.high != b.high) return a.high < b.high;
        if (a.low != b.low) return a.low < b.low;
        return *a.key < *b.key;
    };
    const auto equal = [](const Keyed& a, const Keyed& b) {
        return a.high == b.high && a.low == b.low && *a.key == *b.key;
    };
    auto sorted = [&](const std::vector<Object>& objects, std::vector<std::string>& keys) {
        keys.reserve(objects.size());
        std::vector<Keyed> keyed(objects.size());
        for (std::size_t i = 0; i < objects.size(); ++i) {
            const auto& k = keys.emplace_back(key(objects[i]));
            auto& entry = keyed[i];
            for (std::size_t b = 0; b < 16; ++b) {
                const std::uint64_t byte = b < k.size() ? static_cast<unsigned char>(k[b]) : 0;
                (b < 8 ? entry.high : entry.low) |= byte << (8 * (7 - b % 8));
            }
            entry.key = &k;
            entry.object = &objects[i];
        }
        // Within one key, the vector's order is the objects' addresses' order: an unstable
        // sort on both is a stable sort on the key, without the merge buffer.
        std::sort(keyed.begin(), keyed.end(), [&](const Keyed& a, const Keyed& b) {
            return before(a, b) || (!before(b, a) && a.object < b.object);
        });
        return keyed;
    };
    std::vector<std::string> desired_keys, actual_keys;
    const auto want = sorted(desired, desired_keys);
    const auto have = sorted(actual, actual_keys);

    Diff<Object> diff;
    std::size_t h = 0;
    for (std::size_t w = 0; w < want.size();) {
        const Keyed& k = want[w];
        const Object& d = *k.object;
        while (w < want.size() && equal(want[w], k)) ++w;
        while (h < have.size() && before(have[h], k)) diff.remove.push_back(*have[h++].object);
        const std::size_t first = h;
        while (h < have.size() && equal(have[h], k)) ++h;
        if (first == h) {
            diff.add.push_back(d);
            continue;
        }
        std::size_t match = first;
        while (match < h && !same(*have[match].object, d)) ++match;
        if (match == h) {
            diff.replace.push_back({*have[first].object, d});
            match = first;
        }
        for (std::size_t i = first; i < h; ++i) {
            if (i != match) diff.remove.push_back(*have[i].object);
        }
    }
    while (h < have.size()) diff.remove.push_back(*have[h++].object);
    return diff;
}

}  // namespace twill::reconcile
