#include "twill/kv/types.hpp"

#include <utility>

namespace twill::kv {

namespace {
Compare numeric(std::string key, Compare::Target target, Compare::Op op, std::int64_t number) {
    Compare compare;
    compare.key = std::move(key);
    compare.target = target;
    compare.op = op;
    compare.number = number;
    return compare;
}
}  // namespace

Compare Compare::version(std::string key, Op op, std::int64_t version) {
    return numeric(std::move(key), Target::Version, op, version);
}

Compare Compare::create_revision(std::string key, Op op, Revision revision) {
    return numeric(std::move(key), Target::CreateRevision, op, revision);
}

Compare Compare::mod_revision(std::string key, Op op, Revision revision) {
    return numeric(std::move(key), Target::ModRevision, op, revision);
}

Compare Compare::lease(std::string key, Op op, LeaseId lease) {
    return numeric(std::move(key), Target::Lease, op, lease);
}

Compare Compare::value_is(std::string key, Op op, std::string value) {
    Compare compare;
    compare.key = std::move(key);
    compare.target = Target::Value;
    compare.op = op;
    compare.value = std::move(value);
    return compare;
}

Compare Compare::absent(std::string key) {
    return create_revision(std::move(key), Op::Equal, 0);
}

TxnOp TxnOp::get(std::string key, RangeOptions options) {
    TxnOp op;
    op.type = Type::Range;
    op.key = std::move(key);
    op.range = options;
    return op;
}

TxnOp TxnOp::put_kv(std::string key, std::string value, PutOptions options) {
    TxnOp op;
    op.type = Type::Put;
    op.key = std::move(key);
    op.value = std::move(value);
    op.put = options;
    return op;
}

TxnOp TxnOp::delete_key(std::string key, DeleteOptions options) {
    TxnOp op;
    op.type = Type::Delete;
    op.key = std::move(key);
    op.remove = options;
    return op;
}

}  // namespace twill::kv
