#include "twill/kv/client.hpp"

#include "connection.hpp"
#include "convert.hpp"

namespace twill::kv {

using detail::Retry;

namespace {
std::string describe_range(std::string_view key, bool prefix) {
    std::string text(key);
    if (prefix) text += " (prefix)";
    return text;
}

std::string lease_name(LeaseId id) {
    return "lease " + std::to_string(id);
}
}  // namespace

Client::Client(ClientOptions options)
    : connection_(std::make_shared<detail::Connection>(std::move(options))) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

RangeResult Client::range(std::string_view key, const RangeOptions& options) {
    const auto request = detail::range_request(key, options);
    etcdserverpb::RangeResponse response;
    connection_->call("range", describe_range(key, options.prefix), Retry::Idempotent,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.kv->Range(&context, request, &response);
                      });
    return detail::from_proto(response);
}

std::optional<KeyValue> Client::get(std::string_view key) {
    auto result = range(key);
    if (result.kvs.empty()) return std::nullopt;
    return std::move(result.kvs.front());
}

PutResult Client::put(std::string_view key, std::string_view value, const PutOptions& options) {
    const auto request = detail::put_request(key, value, options);
    etcdserverpb::PutResponse response;
    connection_->call("put", key, Retry::OnlyIfUnavailable,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.kv->Put(&context, request, &response);
                      });
    return detail::from_proto(response);
}

DeleteResult Client::delete_range(std::string_view key, const DeleteOptions& options) {
    const auto request = detail::delete_request(key, options);
    etcdserverpb::DeleteRangeResponse response;
    connection_->call("delete", describe_range(key, options.prefix), Retry::OnlyIfUnavailable,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.kv->DeleteRange(&context, request, &response);
                      });
    return detail::from_proto(response);
}

TxnResult Client::txn(const Txn& txn) {
    const auto request = detail::txn_request(txn);
    etcdserverpb::TxnResponse response;
    const std::string key = txn.compare.empty() ? std::string() : txn.compare.front().key;
    connection_->call("txn", key, Retry::OnlyIfUnavailable,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.kv->Txn(&context, request, &response);
                      });
    return detail::from_proto(response);
}

Revision Client::compact(Revision revision, bool physical) {
    etcdserverpb::CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(physical);
    etcdserverpb::CompactionResponse response;
    connection_->call("compact", "revision " + std::to_string(revision), Retry::Idempotent,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.kv->Compact(&context, request, &response);
                      });
    return response.header().revision();
}

LeaseGrant Client::lease_grant(std::chrono::seconds ttl, LeaseId id) {
    etcdserverpb::LeaseGrantRequest request;
    request.set_ttl(ttl.count());
    request.set_id(id);
    etcdserverpb::LeaseGrantResponse response;
    connection_->call("lease grant", "ttl " + std::to_string(ttl.count()) + "s",
                      Retry::OnlyIfUnavailable,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.lease->LeaseGrant(&context, request, &response);
                      });
    if (!response.error().empty()) {
        throw KvError("lease grant", "ttl " + std::to_string(ttl.count()) + "s",
                      StatusCode::FailedPrecondition, response.error());
    }
    return LeaseGrant{.id = response.id(), .ttl = std::chrono::seconds(response.ttl())};
}

void Client::lease_revoke(LeaseId id) {
    etcdserverpb::LeaseRevokeRequest request;
    request.set_id(id);
    etcdserverpb::LeaseRevokeResponse response;
    connection_->call("lease revoke", lease_name(id), Retry::OnlyIfUnavailable,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.lease->LeaseRevoke(&context, request, &response);
                      });
}

std::optional<LeaseStatus> Client::lease_time_to_live(LeaseId id, bool keys) {
    etcdserverpb::LeaseTimeToLiveRequest request;
    request.set_id(id);
    request.set_keys(keys);
    etcdserverpb::LeaseTimeToLiveResponse response;
    connection_->call("lease time-to-live", lease_name(id), Retry::Idempotent,
                      [&](detail::Stubs& endpoint, grpc::ClientContext& context) {
                          return endpoint.lease->LeaseTimeToLive(&context, request, &response);
                      });
    // etcd answers TTL -1 for a lease it does not know (expired or revoked).
    if (response.ttl() < 0) return std::nullopt;
    LeaseStatus status;
    status.id = response.id();
    status.ttl = std::chrono::seconds(response.ttl());
    status.granted_ttl = std::chrono::seconds(response.grantedttl());
    for (const auto& key : response.keys()) status.keys.push_back(key);
    return status;
}

std::unique_ptr<LeaseKeepAlive> Client::keep_alive(LeaseId id, KeepAliveCallbacks callbacks) {
    return std::make_unique<LeaseKeepAlive>(connection_, id, std::move(callbacks));
}

std::unique_ptr<Watch> Client::watch(std::string key, WatchOptions options,
                                     WatchCallbacks callbacks) {
    return std::make_unique<Watch>(connection_, std::move(key), options, std::move(callbacks));
}

void Client::reconnect() {
    connection_->reset();
}

std::uint64_t Client::reconnects() const noexcept {
    return connection_->reconnects();
}

bool Client::connected() const noexcept {
    return connection_->connected();
}

std::string Client::current_endpoint() const {
    return connection_->address(connection_->preferred());
}

const ClientOptions& Client::options() const noexcept {
    return connection_->options();
}

}  // namespace twill::kv
