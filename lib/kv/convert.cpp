#include "convert.hpp"

namespace twill::kv::detail {

namespace {

// etcd keys: the empty key is not allowed, so a prefix range over everything starts at "\0".
std::string range_start(std::string_view key, bool prefix) {
    if (prefix && key.empty()) return std::string(1, '\0');
    return std::string(key);
}

etcdserverpb::Compare::CompareResult compare_result(Compare::Op op) {
    switch (op) {
        case Compare::Op::Equal:
            return etcdserverpb::Compare::EQUAL;
        case Compare::Op::NotEqual:
            return etcdserverpb::Compare::NOT_EQUAL;
        case Compare::Op::Less:
            return etcdserverpb::Compare::LESS;
        case Compare::Op::Greater:
            return etcdserverpb::Compare::GREATER;
    }
    return etcdserverpb::Compare::EQUAL;
}

void fill_compare(const Compare& in, etcdserverpb::Compare* out) {
    out->set_key(in.key);
    out->set_result(compare_result(in.op));
    switch (in.target) {
        case Compare::Target::Version:
            out->set_target(etcdserverpb::Compare::VERSION);
            out->set_version(in.number);
            break;
        case Compare::Target::CreateRevision:
            out->set_target(etcdserverpb::Compare::CREATE);
            out->set_create_revision(in.number);
            break;
        case Compare::Target::ModRevision:
            out->set_target(etcdserverpb::Compare::MOD);
            out->set_mod_revision(in.number);
            break;
        case Compare::Target::Value:
            out->set_target(etcdserverpb::Compare::VALUE);
            out->set_value(in.value);
            break;
        case Compare::Target::Lease:
            out->set_target(etcdserverpb::Compare::LEASE);
            out->set_lease(in.number);
            break;
    }
}

void fill_op(const TxnOp& in, etcdserverpb::RequestOp* out) {
    switch (in.type) {
        case TxnOp::Type::Range:
            *out->mutable_request_range() = range_request(in.key, in.range);
            break;
        case TxnOp::Type::Put:
            *out->mutable_request_put() = put_request(in.key, in.value, in.put);
            break;
        case TxnOp::Type::Delete:
            *out->mutable_request_delete_range() = delete_request(in.key, in.remove);
            break;
    }
}

}  // namespace

std::string prefix_range_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(end.back());
        if (last < 0xff) {
            ++last;
            return end;
        }
        end.pop_back();
    }
    // Every byte was 0xff (or the prefix was empty): to the end of the keyspace.
    return std::string(1, '\0');
}

KeyValue from_proto(const mvccpb::KeyValue& kv) {
    return KeyValue{.key = kv.key(),
                    .value = kv.value(),
                    .create_revision = kv.create_revision(),
                    .mod_revision = kv.mod_revision(),
                    .version = kv.version(),
                    .lease = kv.lease()};
}

RangeResult from_proto(const etcdserverpb::RangeResponse& response) {
    RangeResult result;
    result.kvs.reserve(static_cast<std::size_t>(response.kvs_size()));
    for (const auto& kv : response.kvs()) result.kvs.push_back(from_proto(kv));
    result.revision = response.header().revision();
    result.more = response.more();
    result.count = response.count();
    return result;
}

PutResult from_proto(const etcdserverpb::PutResponse& response) {
    PutResult result;
    result.revision = response.header().revision();
    if (response.has_prev_kv()) result.prev_kv = from_proto(response.prev_kv());
    return result;
}

DeleteResult from_proto(const etcdserverpb::DeleteRangeResponse& response) {
    DeleteResult result;
    result.revision = response.header().revision();
    result.deleted = response.deleted();
    for (const auto& kv : response.prev_kvs()) result.prev_kvs.push_back(from_proto(kv));
    return result;
}

TxnResult from_proto(const etcdserverpb::TxnResponse& response) {
    TxnResult result;
    result.succeeded = response.succeeded();
    result.revision = response.header().revision();
    for (const auto& op : response.responses()) {
        switch (op.response_case()) {
            case etcdserverpb::ResponseOp::kResponseRange:
                result.results.emplace_back(from_proto(op.response_range()));
                break;
            case etcdserverpb::ResponseOp::kResponsePut:
                result.results.emplace_back(from_proto(op.response_put()));
                break;
            case etcdserverpb::ResponseOp::kResponseDeleteRange:
                result.results.emplace_back(from_proto(op.response_delete_range()));
                break;
            default:
                // Nested transactions are not something twill sends.
                break;
        }
    }
    return result;
}

WatchEvent from_proto(const mvccpb::Event& event) {
    WatchEvent result;
    result.type =
        event.type() == mvccpb::Event::DELETE ? WatchEvent::Type::Delete : WatchEvent::Type::Put;
    result.kv = from_proto(event.kv());
    if (event.has_prev_kv()) result.prev_kv = from_proto(event.prev_kv());
    return result;
}

etcdserverpb::RangeRequest range_request(std::string_view key, const RangeOptions& options) {
    etcdserverpb::RangeRequest request;
    request.set_key(range_start(key, options.prefix));
    if (options.prefix) request.set_range_end(prefix_range_end(key));
    request.set_revision(options.revision);
    request.set_limit(options.limit);
    request.set_keys_only(options.keys_only);
    request.set_count_only(options.count_only);
    return request;
}

etcdserverpb::PutRequest put_request(std::string_view key, std::string_view value,
                                     const PutOptions& options) {
    etcdserverpb::PutRequest request;
    request.set_key(std::string(key));
    request.set_value(std::string(value));
    request.set_lease(options.lease);
    request.set_prev_kv(options.prev_kv);
    return request;
}

etcdserverpb::DeleteRangeRequest delete_request(std::string_view key,
                                                const DeleteOptions& options) {
    etcdserverpb::DeleteRangeRequest request;
    request.set_key(range_start(key, options.prefix));
    if (options.prefix) request.set_range_end(prefix_range_end(key));
    request.set_prev_kv(options.prev_kv);
    return request;
}

etcdserverpb::TxnRequest txn_request(const Txn& txn) {
    etcdserverpb::TxnRequest request;
    for (const auto& compare : txn.compare) fill_compare(compare, request.add_compare());
    for (const auto& op : txn.success) fill_op(op, request.add_success());
    for (const auto& op : txn.failure) fill_op(op, request.add_failure());
    return request;
}

}  // namespace twill::kv::detail
