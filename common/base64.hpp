// Base64 (standard, with padding) and base64url (no padding, for JWTs) over libsodium.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sparrow::common {

std::string Base64Encode(std::string_view bytes);
// Strict: returns nullopt on any character outside the alphabet or bad padding.
std::optional<std::string> Base64Decode(std::string_view text);

std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Lowercase hexadecimal.
std::string HexEncode(std::string_view bytes);

}  // namespace sparrow::common
