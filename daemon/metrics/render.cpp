#include <prometheus/text_serializer.h>

#include <twill/metrics/render.hpp>

namespace twill::metrics {

std::string render_text(const prometheus::Collectable& source) {
    return prometheus::TextSerializer().Serialize(source.Collect());
}

}  // namespace twill::metrics
