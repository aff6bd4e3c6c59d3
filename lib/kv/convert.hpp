#pragma once
// Between twill::kv value types and etcd's protobuf messages.
#include <string>
#include <string_view>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "twill/kv/types.hpp"

namespace twill::kv::detail {

// etcd's range end for "every key starting with prefix" (clientv3.GetPrefixRangeEnd).
std::string prefix_range_end(std::string_view prefix);

KeyValue from_proto(const mvccpb::KeyValue& kv);
RangeResult from_proto(const etcdserverpb::RangeResponse& response);
PutResult from_proto(const etcdserverpb::PutResponse& response);
DeleteResult from_proto(const etcdserverpb::DeleteRangeResponse& response);
TxnResult from_proto(const etcdserverpb::TxnResponse& response);
WatchEvent from_proto(const mvccpb::Event& event);

etcdserverpb::RangeRequest range_request(std::string_view key, const RangeOptions& options);
etcdserverpb::PutRequest put_request(std::string_view key, std::string_view value,
                                     const PutOptions& options);
etcdserverpb::DeleteRangeRequest delete_request(std::string_view key, const DeleteOptions& options);
etcdserverpb::TxnRequest txn_request(const Txn& txn);

}  // namespace twill::kv::detail
