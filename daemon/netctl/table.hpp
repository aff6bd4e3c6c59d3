#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace twill::netctl {

// Left-aligned columns separated by two spaces, sized to their widest cell.
class Table {
  public:
    explicit Table(std::vector<std::string> header);
    void add_row(std::vector<std::string> row);
    void print(std::ostream& out) const;

  private:
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace twill::netctl
