#include "twill/reconcile/report.hpp"

namespace twill::reconcile {

std::string_view to_string(Action action) {
    switch (action) {
        case Action::added:
            return "added";
        case Action::replaced:
            return "replaced";
        case Action::deleted:
            return "deleted";
    }
    return "?";
}

void Report::merge(Report&& other) {
    changes.insert(changes.end(), std::make_move_iterator(other.changes.begin()),
                   std::make_move_iterator(other.changes.end()));
    errors.insert(errors.end(), std::make_move_iterator(other.errors.begin()),
                  std::make_move_iterator(other.errors.end()));
    unsettled.merge(other.unsettled);
    desired += other.desired;
    actual += other.actual;
    duration += other.duration;
}

}  // namespace twill::reconcile
