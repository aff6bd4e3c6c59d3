#pragma once
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace twill::sys {

// Writes `content` to `path` so that readers see the old file or the new one, never a partial
// one: a temporary file in the same directory, fsync, rename, fsync of the directory.
void write_file_atomic(const std::filesystem::path& path, std::string_view content,
                       mode_t mode = 0644);

// The whole file, or nullopt when it does not exist; other failures throw SystemError.
std::optional<std::string> read_file(const std::filesystem::path& path);

// mkdir -p with `mode` for the directories it creates; throws SystemError naming the path.
void make_directories(const std::filesystem::path& path, mode_t mode = 0755);

}  // namespace twill::sys
