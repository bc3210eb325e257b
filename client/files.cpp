#include "client/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "client/crypto.hpp"
#include "common/base64.hpp"

namespace sparrow::client {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMinChunk = 1024;
constexpr std::uint64_t kMaxChunk = 16u << 20;

bool IsLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string EncodeFileDescriptor(const FileInfo& file) {
  return json{{"v", 1},
              {"fileId", file.file_id},
              {"name", file.name},
              {"size", file.size},
              {"sha256", file.sha256},
              {"contentType", file.content_type},
              {"key", common::Base64Encode(file.key)},
              {"chunk", file.chunk_bytes}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<FileInfo> DecodeFileDescriptor(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto str = [&](const char* name) -> std::optional<std::string> {
    if (!j.contains(name) || !j[name].is_string()) return std::nullopt;
    return j[name].get<std::string>();
  };
  auto uint = [&](const char* name) -> std::optional<std::uint64_t> {
    if (!j.contains(name) || !j[name].is_number_unsigned()) return std::nullopt;
    return j[name].get<std::uint64_t>();
  };
  const auto file_id = str("fileId");
  const auto name = str("name");
  const auto size = uint("size");
  const auto sha = str("sha256");
  const auto key_text = str("key");
  const auto chunk = uint("chunk");
  if (!file_id || file_id->empty() || !name || !size || !sha || !key_text || !chunk) {
    return std::nullopt;
  }
  if (sha->size() != 64 || !IsLowerHex(*sha)) return std::nullopt;
  if (*chunk < kMinChunk || *chunk > kMaxChunk) return std::nullopt;
  auto key = common::Base64Decode(*key_text);
  if (!key || key->size() != kKeyBytes) return std::nullopt;
  FileInfo file;
  file.file_id = *file_id;
  file.name = *name;
  file.size = *size;
  file.sha256 = *sha;
  file.content_type = str("contentType").value_or("application/octet-stream");
  file.key = *std::move(key);
  file.chunk_bytes = *chunk;
  return file;
}

std::string SafeFileName(std::string_view name) {
  const auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) continue;
    out += static_cast<char>(c);
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
  if (out.size() > 200) {
    out.resize(200);
    // Do not leave a cut UTF-8 sequence at the end.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80) != 0) out.pop_back();
  }
  if (out.empty()) out = "file";
  return out;
}

std::string GuessContentType(std::string_view name) {
  const auto dot = name.find_last_of('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const std::string ext = Lower(name.substr(dot + 1));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"txt", "text/plain"},      {"md", "text/markdown"},
      {"html", "text/html"},      {"json", "application/json"},
      {"pdf", "application/pdf"}, {"zip", "application/zip"},
      {"gz", "application/gzip"}, {"png", "image/png"},
      {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},       {"webp", "image/webp"},
      {"svg", "image/svg+xml"},   {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"},       {"wav", "audio/wav"},
      {"mp4", "video/mp4"},       {"webm", "video/webm"},
      {"csv", "text/csv"},        {"bin", "application/octet-stream"},
  };
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

std::filesystem::path UniquePath(const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::path candidate = dir / name;
  std::error_code ec;
  if (!std::filesystem::exists(candidate, ec)) return candidate;
  const std::filesystem::path p(name);
  const std::string stem = p.stem().string();
  const std::string ext = p.extension().string();
  for (int n = 1;; ++n) {
    candidate = dir / (stem + " (" + std::to_string(n) + ")" + ext);
    if (!std::filesystem::exists(candidate, ec)) return candidate;
  }
}

RestResult<FileInfo> UploadFile(RestClient& rest, const std::string& to,
                                const std::filesystem::path& path, const Progress& progress) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return RestError{.status = 0, .code = "bad_request", .message = path.string() + ": not a file"};
  }
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return RestError{.status = 0, .code = "bad_request", .message = ec.message()};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return RestError{.status = 0, .code = "bad_request", .message = path.string() + ": unreadable"};
  }

  FileInfo file;
  file.name = SafeFileName(path.filename().string());
  file.size = size;
  file.content_type = GuessContentType(file.name);
  file.key = RandomBytes(kKeyBytes);
  file.chunk_bytes = kFileChunkBytes;

  const std::uint64_t chunks = FileChunkCount(size, kFileChunkBytes);
  const std::uint64_t sealed_size = SealedFileSize(size, kFileChunkBytes);
  Sha256 sha;
  std::uint64_t next_chunk = 0;
  std::uint64_t produced = 0;  // sealed bytes handed to the uploader
  std::string sealed;          // sealed bytes not yet handed out
  std::string plain(kFileChunkBytes, '\0');
  auto source = [&](std::uint64_t offset, std::size_t max, std::string& out) {
    if (offset != produced) return false;  // the uploader reads strictly in order
    while (sealed.size() < max && next_chunk < chunks) {
      const bool last = next_chunk + 1 == chunks;
      const std::uint64_t want =
          last ? size - next_chunk * kFileChunkBytes : static_cast<std::uint64_t>(kFileChunkBytes);
      in.read(plain.data(), static_cast<std::streamsize>(want));
      if (static_cast<std::uint64_t>(in.gcount()) != want) return false;  // file shrank
      const std::string_view chunk(plain.data(), static_cast<std::size_t>(want));
      sha.Update(chunk);
      sealed += SealFileChunk(file.key, next_chunk, last, chunk);
      ++next_chunk;
    }
    const std::size_t n = std::min(max, sealed.size());
    out.assign(sealed, 0, n);
    sealed.erase(0, n);
    produced += n;
    return n > 0;
  };
  auto uploaded = rest.UploadFile(to, sealed_size, source, progress);
  if (!uploaded.ok()) return uploaded.error();
  if (next_chunk != chunks) {
    return RestError{.status = 0, .code = "canceled", .message = "upload ended early"};
  }
  file.file_id = uploaded.value().file_id;
  file.sha256 = sha.HexDigest();
  return file;
}

DownloadResult DownloadFile(RestClient& rest, const FileInfo& file,
                            const std::filesystem::path& dir, const Progress& progress) {
  DownloadResult result;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string temp = (dir / ".sparrow-download-XXXXXX").string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    result.error = "cannot create a file in " + dir.string();
    return result;
  }
  ::close(fd);
  auto discard = [&](std::string why) {
    std::filesystem::remove(temp, ec);
    result.error = std::move(why);
    return result;
  };

  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  FileOpener opener(file.key, file.size, static_cast<std::size_t>(file.chunk_bytes));
  Sha256 sha;
  std::uint64_t written = 0;
  bool tampered = false;
  std::string plain;
  auto sink = [&](std::string_view piece) {
    plain.clear();
    if (!opener.Update(piece, plain)) {
      tampered = true;
      return false;
    }
    sha.Update(plain);
    out.write(plain.data(), static_cast<std::streamsize>(plain.size()));
    written += plain.size();
    return static_cast<bool>(out);
  };
  const auto downloaded = rest.DownloadFile(file.file_id, sink, progress);
  out.close();
  if (tampered) return discard("file " + file.name + ": contents do not authenticate");
  if (!downloaded.ok()) return discard("file " + file.name + ": " + downloaded.error().ToString());
  if (!out) return discard("file " + file.name + ": cannot write to " + dir.string());
  if (!opener.Finish() || written != file.size) {
    return discard("file " + file.name + ": incomplete or truncated contents");
  }
  if (sha.HexDigest() != file.sha256) return discard("file " + file.name + ": sha256 mismatch");

  const auto final_path = UniquePath(dir, SafeFileName(file.name));
  std::filesystem::rename(temp, final_path, ec);
  if (ec) return discard("file " + file.name + ": " + ec.message());
  result.ok = true;
  result.path = final_path;
  return result;
}

}  // namespace sparrow::client
