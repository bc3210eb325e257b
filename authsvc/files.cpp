#include "authsvc/files.hpp"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"

namespace sparrow::authsvc {
namespace {

// Writes are batched: request bodies arrive in ~4 KiB pieces.
constexpr std::size_t kWriteBuffer = 256 * 1024;

}  // namespace

struct FileStore::Upload::HashState {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  HashState() {
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      throw common::Error("sha256: cannot initialise OpenSSL digest");
    }
  }
  ~HashState() { EVP_MD_CTX_free(ctx); }
  HashState(const HashState&) = delete;
  HashState& operator=(const HashState&) = delete;
};

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

FileStore::FileStore(std::filesystem::path root) : root_(std::move(root)), tmp_(root_ / "tmp") {
  std::error_code ec;
  std::filesystem::create_directories(tmp_, ec);
  if (ec) throw common::ConfigError("files folder: cannot create " + tmp_.string());
  ::chmod(root_.c_str(), 0700);
  ::chmod(tmp_.c_str(), 0700);
  // Uploads cut short by a crash: nothing refers to them.
  for (const auto& entry : std::filesystem::directory_iterator(tmp_, ec)) {
    std::filesystem::remove(entry.path(), ec);
  }
}

std::unique_ptr<FileStore::Upload> FileStore::BeginUpload(std::uint64_t limit) const {
  return std::unique_ptr<Upload>(new Upload(*this, limit));
}

std::filesystem::path FileStore::PathOf(std::string_view sha256) const {
  assert(IsSha256Hex(sha256));
  return root_ / std::string(sha256);
}

FileStore::Upload::Upload(const FileStore& store, std::uint64_t limit)
    : store_(store), limit_(limit), hash_(std::make_unique<HashState>()) {
  tmp_path_ = store_.tmp_ / common::NewFileId();
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw common::Error("upload: cannot create a temporary file in " + store_.tmp_.string());
  buffer_.reserve(kWriteBuffer);
}

FileStore::Upload::~Upload() {
  if (!committed_) Discard();
}

void FileStore::Upload::Discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_path_.c_str());
  }
  buffer_.clear();
  buffer_.shrink_to_fit();
}

void FileStore::Upload::Flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Discard();
      throw common::Error("upload: cannot write the temporary file (disk full?)");
    }
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

bool FileStore::Upload::Append(std::string_view data) {
  if (over_limit_ || committed_) return false;
  if (data.size() > limit_ - size_) {
    MarkOverLimit();
    return false;
  }
  size_ += data.size();
  EVP_DigestUpdate(hash_->ctx, data.data(), data.size());
  buffer_.append(data);
  if (buffer_.size() >= kWriteBuffer) Flush();
  return true;
}

void FileStore::Upload::MarkOverLimit() {
  over_limit_ = true;
  Discard();
}

StoredFile FileStore::Upload::Commit() {
  assert(!over_limit_ && !committed_);
  Flush();
  if (::fsync(fd_) != 0) {
    Discard();
    throw common::Error("upload: cannot sync the temporary file");
  }
  ::close(fd_);
  fd_ = -1;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(hash_->ctx, digest, &length);
  StoredFile stored{common::HexEncode(std::string_view(reinterpret_cast<char*>(digest), length)),
                    size_};
  // rename() replaces an existing file atomically; the same name means the same bytes.
  const auto target = store_.PathOf(stored.sha256);
  if (::rename(tmp_path_.c_str(), target.c_str()) != 0) {
    ::unlink(tmp_path_.c_str());
    throw common::Error("upload: cannot move the file into " + store_.root_.string());
  }
  committed_ = true;
  // Make the rename durable too.
  const int dir = ::open(store_.root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return stored;
}

}  // namespace sparrow::authsvc
