#include "tests/security/raw_mqtt.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace sparrow::security {
namespace {

constexpr std::uint8_t kConnack = 2;
constexpr std::uint8_t kPublish = 3;
constexpr std::uint8_t kPuback = 4;
constexpr std::uint8_t kPubrec = 5;
constexpr std::uint8_t kPubcomp = 7;
constexpr std::uint8_t kSuback = 9;
constexpr std::uint8_t kDisconnect = 14;

void AppendVarint(std::string& out, std::size_t value) {
  do {
    auto byte = static_cast<std::uint8_t>(value % 128);
    value /= 128;
    if (value > 0) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (value > 0);
}

void AppendU16(std::string& out, std::size_t value) {
  out += static_cast<char>((value >> 8) & 0xff);
  out += static_cast<char>(value & 0xff);
}

void AppendString(std::string& out, const std::string& text) {
  AppendU16(out, text.size());
  out += text;
}

std::uint16_t ReadU16(const std::string& body, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(body[at]) << 8) |
                                    static_cast<std::uint8_t>(body[at + 1]));
}

}  // namespace

RawMqtt::RawMqtt(int port, int version, std::chrono::milliseconds timeout)
    : version_(version), timeout_(timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("RawMqtt: socket failed");
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("RawMqtt: connect failed");
  }
}

RawMqtt::~RawMqtt() { Drop(); }

void RawMqtt::Send(std::uint8_t header, const std::string& body) {
  if (fd_ < 0) return;
  std::string packet(1, static_cast<char>(header));
  AppendVarint(packet, body.size());
  packet += body;
  std::size_t sent = 0;
  while (sent < packet.size()) {
    const ssize_t n = ::send(fd_, packet.data() + sent, packet.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      closed_ = true;
      return;
    }
    sent += static_cast<std::size_t>(n);
  }
}

bool RawMqtt::ReadExact(char* out, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  std::size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t r = ::recv(fd_, out + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      closed_ = true;
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

std::optional<std::pair<std::uint8_t, std::string>> RawMqtt::Read(
    std::chrono::milliseconds timeout) {
  if (fd_ < 0 || closed_) {
    closed_ = true;
    return std::nullopt;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char first = 0;
  if (!ReadExact(&first, 1, deadline)) return std::nullopt;
  std::size_t length = 0;
  std::size_t multiplier = 1;
  for (int i = 0; i < 4; ++i) {
    char byte = 0;
    if (!ReadExact(&byte, 1, deadline)) return std::nullopt;
    length += (static_cast<std::uint8_t>(byte) & 0x7f) * multiplier;
    multiplier *= 128;
    if ((static_cast<std::uint8_t>(byte) & 0x80) == 0) break;
  }
  std::string body(length, '\0');
  if (length > 0 && !ReadExact(body.data(), length, deadline)) return std::nullopt;
  return std::make_pair(static_cast<std::uint8_t>(first), std::move(body));
}

std::optional<std::string> RawMqtt::ReadUntil(std::uint8_t type) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto packet = Read(left);
    if (!packet) return std::nullopt;
    const std::uint8_t packet_type = packet->first >> 4;
    if (packet_type == type) return std::move(packet->second);
    if (packet_type == kDisconnect) {
      closed_ = true;
      return std::nullopt;
    }
    if (packet_type == kPublish) OnPublish(packet->first, packet->second);
  }
}

void RawMqtt::OnPublish(std::uint8_t first, const std::string& body) {
  if (body.size() < 2) return;
  const int qos = (first >> 1) & 0x3;
  const std::size_t topic_length = ReadU16(body, 0);
  std::size_t at = 2 + topic_length;
  if (at > body.size()) return;
  RawMessage message{body.substr(2, topic_length), "", (first & 0x1) != 0};
  std::uint16_t id = 0;
  if (qos > 0) {
    if (at + 2 > body.size()) return;
    id = ReadU16(body, at);
    at += 2;
  }
  if (version_ == 5) {  // skip the properties
    std::size_t length = 0;
    std::size_t multiplier = 1;
    while (at < body.size()) {
      const auto byte = static_cast<std::uint8_t>(body[at++]);
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) == 0) break;
    }
    at += length;
  }
  if (at <= body.size()) message.payload = body.substr(at);
  received_.push_back(std::move(message));
  if (qos == 1) {
    // Acknowledge an incoming QoS 1 message so the broker's flow goes on.
    std::string ack;
    AppendU16(ack, id);
    Send(kPuback << 4, ack);
  }
}

int RawMqtt::Connect(const std::string& client_id, const std::string& username,
                     const std::string& password, const std::optional<RawWill>& will) {
  std::string body;
  AppendString(body, "MQTT");
  body += static_cast<char>(version_ == 5 ? 5 : 4);
  std::uint8_t flags = 0x02;  // clean session / clean start
  if (!username.empty()) flags |= 0x80;
  if (!password.empty()) flags |= 0x40;
  if (will) {
    flags |= 0x04;
    flags |= static_cast<std::uint8_t>((will->qos & 0x3) << 3);
    if (will->retain) flags |= 0x20;
  }
  body += static_cast<char>(flags);
  AppendU16(body, 30);  // keep-alive, s
  if (version_ == 5) AppendVarint(body, 0);
  AppendString(body, client_id);
  if (will) {
    if (version_ == 5) AppendVarint(body, 0);
    AppendString(body, will->topic);
    AppendString(body, will->payload);
  }
  if (!username.empty()) AppendString(body, username);
  if (!password.empty()) AppendString(body, password);
  Send(0x10, body);
  const auto connack = ReadUntil(kConnack);
  if (!connack) return closed_ ? kClosed : kTimeout;
  if (connack->size() < 2) return kClosed;
  return static_cast<std::uint8_t>((*connack)[1]);
}

int RawMqtt::Publish(const std::string& topic, const std::string& payload, int qos, bool retain,
                     std::uint16_t topic_alias) {
  std::string body;
  AppendString(body, topic);
  const std::uint16_t id = next_packet_id_++;
  if (qos > 0) AppendU16(body, id);
  if (version_ == 5) {
    std::string properties;
    if (topic_alias > 0) {
      properties += static_cast<char>(0x23);
      AppendU16(properties, topic_alias);
    }
    AppendVarint(body, properties.size());
    body += properties;
  }
  body += payload;
  const auto header = static_cast<std::uint8_t>(0x30 | ((qos & 0x3) << 1) | (retain ? 1 : 0));
  Send(header, body);
  if (closed_) return kClosed;
  if (qos == 0) return 0;
  while (true) {
    const auto ack = ReadUntil(qos == 1 ? kPuback : kPubrec);
    if (!ack) return closed_ ? kClosed : kTimeout;
    if (ack->size() < 2 || ReadU16(*ack, 0) != id) continue;
    const int code = ack->size() >= 3 ? static_cast<std::uint8_t>((*ack)[2]) : 0;
    if (qos == 2 && code < 0x80) {
      // QoS 2: the broker hands the message on once it has our PUBREL.
      std::string release;
      AppendU16(release, id);
      Send(0x62, release);
      if (!ReadUntil(kPubcomp)) return closed_ ? kClosed : kTimeout;
    }
    return code;
  }
}

int RawMqtt::Subscribe(const std::string& filter, int qos) {
  std::string body;
  const std::uint16_t id = next_packet_id_++;
  AppendU16(body, id);
  if (version_ == 5) AppendVarint(body, 0);
  AppendString(body, filter);
  body += static_cast<char>(qos & 0x3);
  Send(0x82, body);
  const auto ack = ReadUntil(kSuback);
  if (!ack) return closed_ ? kClosed : kTimeout;
  std::size_t at = 2;
  if (version_ == 5) {
    // Skip the properties (a varint length and that many bytes).
    std::size_t length = 0, multiplier = 1;
    while (at < ack->size()) {
      const auto byte = static_cast<std::uint8_t>((*ack)[at++]);
      length += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      if ((byte & 0x80) == 0) break;
    }
    at += length;
  }
  if (at >= ack->size()) return kClosed;
  return static_cast<std::uint8_t>((*ack)[at]);
}

void RawMqtt::Disconnect() {
  if (fd_ < 0) return;
  Send(0xE0, version_ == 5 ? std::string(1, '\0') : std::string());
  Drop();
}

void RawMqtt::Drop() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  closed_ = true;
}

bool RawMqtt::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto packet = Read(left);
    if (packet && (packet->first >> 4) == kDisconnect) closed_ = true;
    if (packet && (packet->first >> 4) == kPublish) OnPublish(packet->first, packet->second);
    if (!packet && !closed_) return false;
  }
  return true;
}

bool RawMqtt::WaitForMessage(const std::function<bool(const RawMessage&)>& pred,
                             std::chrono::milliseconds timeout) {
  std::size_t checked = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    for (; checked < received_.size(); ++checked) {
      if (pred(received_[checked])) return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (closed_ || left.count() <= 0) return false;
    auto packet = Read(left);
    if (!packet) return false;
    const std::uint8_t type = packet->first >> 4;
    if (type == kDisconnect) closed_ = true;
    if (type == kPublish) OnPublish(packet->first, packet->second);
  }
}

}  // namespace sparrow::security
