#pragma once
// Plain value types of the etcd v3 API as twill uses it. Keys and values are byte strings
// (std::string); revisions and lease IDs are etcd's int64.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace twill::kv {

using Revision = std::int64_t;
using LeaseId = std::int64_t;  // 0 = no lease

struct KeyValue {
    std::string key{};
    std::string value{};
    Revision create_revision = 0;  // revision that created the key (0: the key is absent)
    Revision mod_revision = 0;     // revision of the last modification
    std::int64_t version = 0;      // modifications since creation (1 right after creation)
    LeaseId lease = 0;             // lease the key is attached to, 0 for none

    friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// --- KV ---------------------------------------------------------------------------------

struct RangeOptions {
    bool prefix = false;      // every key starting with `key` (an empty key: the whole keyspace)
    Revision revision = 0;    // read at this revision; 0 = the latest
    std::int64_t limit = 0;   // at most this many keys; 0 = no limit
    bool keys_only = false;   // values left empty
    bool count_only = false;  // only `count` is filled
};

struct RangeResult {
    std::vector<KeyValue> kvs{};  // sorted by key
    Revision revision = 0;        // store revision the range was served at (response header)
    bool more = false;            // true if `limit` cut the result
    std::int64_t count = 0;       // number of keys in the range (before `limit`)
};

struct PutOptions {
    LeaseId lease = 0;     // attach the key to this lease
    bool prev_kv = false;  // return the previous key-value pair
};

struct PutResult {
    Revision revision = 0;
    std::optional<KeyValue> prev_kv{};  // with PutOptions::prev_kv, if the key existed
};

struct DeleteOptions {
    bool prefix = false;   // every key starting with `key`
    bool prev_kv = false;  // return the deleted pairs
};

struct DeleteResult {
    Revision revision = 0;
    std::int64_t deleted = 0;
    std::vector<KeyValue> prev_kvs{};  // with DeleteOptions::prev_kv
};

// --- Txn --------------------------------------------------------------------------------

// One condition of a transaction: `target(key) op operand`. A key that does not exist has
// create_revision, mod_revision and version 0, so "absent" is `create_revision == 0`.
struct Compare {
    enum class Target { Version, CreateRevision, ModRevision, Value, Lease };
    enum class Op { Equal, NotEqual, Less, Greater };

    std::string key{};
    Target target = Target::CreateRevision;
    Op op = Op::Equal;
    std::int64_t number = 0;  // for Version, CreateRevision, ModRevision, Lease
    std::string value{};      // for Value

    static Compare version(std::string key, Op op, std::int64_t version);
    static Compare create_revision(std::string key, Op op, Revision revision);
    static Compare mod_revision(std::string key, Op op, Revision revision);
    static Compare value_is(std::string key, Op op, std::string value);
    static Compare lease(std::string key, Op op, LeaseId lease);
    // create_revision(key) == 0
    static Compare absent(std::string key);
};

// One operation of a transaction branch.
struct TxnOp {
    enum class Type { Range, Put, Delete };

    Type type = Type::Range;
    std::string key{};
    std::string value{};     // Put
    RangeOptions range{};    // Range
    PutOptions put{};        // Put
    DeleteOptions remove{};  // Delete

    static TxnOp get(std::string key, RangeOptions options = {});
    static TxnOp put_kv(std::string key, std::string value, PutOptions options = {});
    static TxnOp delete_key(std::string key, DeleteOptions options = {});
};

struct Txn {
    std::vector<Compare> compare{};  // all must hold for `success` to run
    std::vector<TxnOp> success{};
    std::vector<TxnOp> failure{};
};

// Results of the branch that ran, in the order of its ops.
using TxnOpResult = std::variant<RangeResult, PutResult, DeleteResult>;

struct TxnResult {
    bool succeeded = false;  // true: `success` ran; false: `failure` ran
    Revision revision = 0;
    std::vector<TxnOpResult> results{};
};

// --- Lease ------------------------------------------------------------------------------

struct LeaseGrant {
    LeaseId id = 0;
    std::chrono::seconds ttl{0};  // TTL etcd granted (may exceed the request)
};

struct LeaseStatus {
    LeaseId id = 0;
    std::chrono::seconds ttl{0};          // remaining
    std::chrono::seconds granted_ttl{0};  // at grant / last keep-alive
    std::vector<std::string> keys{};      // with `keys = true`
};

// --- Watch ------------------------------------------------------------------------------

struct WatchEvent {
    enum class Type { Put, Delete };
    Type type = Type::Put;
    KeyValue kv{};  // Delete: key and mod_revision (the deletion's revision) only
    std::optional<KeyValue> prev_kv{};  // with WatchOptions::prev_kv, if etcd still had it
};

}  // namespace twill::kv
