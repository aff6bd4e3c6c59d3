#include "twill/reconcile/drift_record.hpp"

namespace twill::reconcile {

const DesiredValue* DriftRecord::find(std::string_view scope, const std::string& key) const {
    const auto values = scopes_.find(std::string(scope));
    if (values == scopes_.end()) return nullptr;
    const auto it = values->second.find(key);
    return it == values->second.end() ? nullptr : &it->second;
}

void DriftRecord::replace(std::string_view scope,
                          std::unordered_map<std::string, DesiredValue> values) {
    scopes_[std::string(scope)] = std::move(values);
}

void DriftRecord::set(std::string_view scope, const std::string& key, DesiredValue value) {
    scopes_[std::string(scope)].insert_or_assign(key, std::move(value));
}

void DriftRecord::erase(std::string_view scope, const std::string& key) {
    if (auto values = scopes_.find(std::string(scope)); values != scopes_.end()) {
        values->second.erase(key);
    }
}

void DriftRecord::forget(std::string_view scope) {
    scopes_.erase(std::string(scope));
}

}  // namespace twill::reconcile
