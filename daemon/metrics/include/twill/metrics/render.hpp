#pragma once
#include <prometheus/collectable.h>

#include <string>
#include <string_view>

namespace twill::metrics {

// The Content-Type of the Prometheus text exposition format that render_text produces.
inline constexpr std::string_view text_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Every metric of `source` (a prometheus::Registry) in the text exposition format 0.0.4,
// with HELP and TYPE lines.
std::string render_text(const prometheus::Collectable& source);

}  // namespace twill::metrics
