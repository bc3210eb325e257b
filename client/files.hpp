// File messages: the contents are sealed under a fresh per-file key and uploaded with
// POST /api/v1/files?to=; the chat's body carries the file's descriptor (fileId, name, size,
// sha256, content type, key), itself sealed under the relation key like any body. The
// receiver downloads, opens every chunk and checks the sha256 before the file appears under
// its final name.
//
// The descriptor is JSON:
//   {"v":1,"fileId":"...","name":"photo.jpg","size":5242880,"sha256":"<hex of the plaintext>",
//    "contentType":"image/jpeg","key":"<base64 of 32 bytes>","chunk":65536}
//
// Functions are thread-safe; UploadFile/DownloadFile block the calling thread for the
// transfer and report progress on it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "client/message.hpp"
#include "client/rest_client.hpp"

namespace sparrow::client {

[[nodiscard]] std::string EncodeFileDescriptor(const FileInfo& file);
// nullopt unless every field is present and well-formed (key 32 bytes, sha256 64 hex
// characters, chunk in 1 KiB..16 MiB).
[[nodiscard]] std::optional<FileInfo> DecodeFileDescriptor(std::string_view json);

// A name that is safe to create in a download folder: the last path component of `name`,
// without control characters, '/', '\\' or a leading '.', at most 200 bytes; "file" if
// nothing is left.
[[nodiscard]] std::string SafeFileName(std::string_view name);

// A MIME type from the file name's extension; "application/octet-stream" when unknown.
[[nodiscard]] std::string GuessContentType(std::string_view name);

// `dir / name`, or `dir / "stem (n)ext"` for the first n that does not exist yet.
[[nodiscard]] std::filesystem::path UniquePath(const std::filesystem::path& dir,
                                               const std::string& name);

// Seals and uploads `path` for `to`. On success the FileInfo to send (with the new key, the
// plaintext's sha256 and the fileId). `rest` must carry a token.
RestResult<FileInfo> UploadFile(RestClient& rest, const std::string& to,
                                const std::filesystem::path& path, const Progress& progress = {});

struct DownloadResult {
  bool ok = false;
  std::filesystem::path path;  // ok: where the verified file is now
  std::string error;           // !ok: one line for people
};

// Downloads the file of `file` into `dir` (created if missing), opening and hashing it on the
// fly into a temporary file that is renamed to UniquePath(dir, SafeFileName(name)) only once
// every chunk authenticated and the sha256 and size match. Nothing is left behind on failure.
DownloadResult DownloadFile(RestClient& rest, const FileInfo& file,
                            const std::filesystem::path& dir, const Progress& progress = {});

}  // namespace sparrow::client
