#include "table.hpp"

#include <algorithm>

#include "printable.hpp"

namespace twill::netctl {

Table::Table(std::vector<std::string> header) {
    rows_.push_back(std::move(header));
}

void Table::add_row(std::vector<std::string> row) {
    row.resize(rows_.front().size());
    for (auto& cell : row) cell = printable(cell);
    rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
    std::vector<std::size_t> widths(rows_.front().size(), 0);
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    for (const auto& row : rows_) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        out << line << '\n';
    }
}

}  // namespace twill::netctl
