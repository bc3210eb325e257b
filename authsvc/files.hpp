// Uploaded files on disk, content-addressed: `{root}/{sha256}` holds the bytes whose SHA-256
// (lowercase hex) is the name, so the same file uploaded twice is stored once. An upload is
// written to `{root}/tmp/` while it is hashed, and renamed into place only when complete and
// within its size limit; an upload that fails or goes over the limit leaves nothing behind.
// Which user may read which file is the database's business (im_file, see api.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace sparrow::authsvc {

struct StoredFile {
  std::string sha256;  // lowercase hex, 64 characters
  std::uint64_t size = 0;
};

// True iff `text` is 64 lowercase hexadecimal digits.
bool IsSha256Hex(std::string_view text);

// Thread-safe: uploads are independent objects; the folder is shared through the file system.
class FileStore {
 public:
  // One upload in progress. Not thread-safe (one request's thread). Destroying it before
  // Commit() removes the temporary file.
  class Upload {
   public:
    ~Upload();
    Upload(const Upload&) = delete;
    Upload& operator=(const Upload&) = delete;

    // Appends bytes. Returns false, stores nothing more and removes the temporary file as soon
    // as the total would pass the limit. Throws common::Error on a write failure (disk full).
    bool Append(std::string_view data);
    // Marks the upload as over the limit without more data (a declared length was too big).
    void MarkOverLimit();
    bool over_limit() const { return over_limit_; }
    std::uint64_t size() const { return size_; }
    std::uint64_t limit() const { return limit_; }

    // Flushes, syncs and renames the file to `{root}/{sha256}`. Precondition: !over_limit(),
    // called once. Throws common::Error on an I/O failure.
    StoredFile Commit();

   private:
    friend class FileStore;
    Upload(const FileStore& store, std::uint64_t limit);
    void Flush();
    void Discard();

    const FileStore& store_;
    const std::uint64_t limit_;
    std::filesystem::path tmp_path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    bool over_limit_ = false;
    bool committed_ = false;
    std::string buffer_;
    struct HashState;
    std::unique_ptr<HashState> hash_;
  };

  // Creates `{root}` and `{root}/tmp` (0700) and removes leftovers of a crash from tmp/.
  // Throws common::ConfigError naming the folder if it cannot.
  explicit FileStore(std::filesystem::path root);

  // Starts an upload of at most `limit` bytes. Throws common::Error if the temporary file
  // cannot be created.
  std::unique_ptr<Upload> BeginUpload(std::uint64_t limit) const;

  // Where the bytes of `sha256` live (precondition: IsSha256Hex(sha256)); it may not exist.
  std::filesystem::path PathOf(std::string_view sha256) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path tmp_;
};

}  // namespace sparrow::authsvc
