#include "tests/chaos/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace sparrow::chaos {
namespace {

// A relayed connection: side 0 the device, side 1 the broker. out[i]: bytes waiting to be
// written to side i.
struct Pair {
  int fd[2] = {-1, -1};
  std::string out[2];
  bool connecting = true;  // the broker side's connect() is in progress
};

void Fail(const std::string& what) {
  throw std::runtime_error("TcpProxy: " + what + ": " + std::strerror(errno));
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) Fail("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) Fail("bind");
  if (::listen(listen_fd_, 4096) != 0) Fail("listen");
  socklen_t length = sizeof address;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) Fail("epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(epoll_fd_);
  ::close(wake_fd_);
}

int TcpProxy::CutAll() {
  std::lock_guard<std::mutex> lock(cut_mutex_);
  const int request = ++cut_requests_;
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  while (cut_done_.load() < request && !stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return last_cut_.load();
}

void TcpProxy::Run() {
  std::unordered_map<int, std::pair<std::shared_ptr<Pair>, int>> ends;  // fd -> (pair, side)

  auto interest = [&](const std::shared_ptr<Pair>& p, int side) {
    epoll_event ev{};
    ev.data.fd = p->fd[side];
    const bool connecting = side == 1 && p->connecting;
    if (!connecting && p->out[1 - side].empty()) ev.events |= EPOLLIN;  // room to forward
    if (connecting || !p->out[side].empty()) ev.events |= EPOLLOUT;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, p->fd[side], &ev);
  };
  auto close_pair = [&](const std::shared_ptr<Pair>& p, bool reset) {
    for (int side = 0; side < 2; ++side) {
      if (p->fd[side] < 0) continue;
      if (reset) {
        linger hard{1, 0};
        ::setsockopt(p->fd[side], SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
      }
      ends.erase(p->fd[side]);
      ::close(p->fd[side]);
      p->fd[side] = -1;
    }
    --connections_;
  };
  // Writes what waits for `side`; false when the connection broke.
  auto flush = [&](const std::shared_ptr<Pair>& p, int side) {
    std::string& out = p->out[side];
    while (!out.empty()) {
      const ssize_t n = ::send(p->fd[side], out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        out.erase(0, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    return true;
  };

  std::vector<epoll_event> events(512);
  char buffer[65536];
  while (!stop_) {
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 200);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      if (fd == wake_fd_) {
        std::uint64_t count = 0;
        (void)!::read(wake_fd_, &count, sizeof count);
        const int requested = cut_requests_.load();
        if (requested > cut_done_.load()) {
          std::vector<std::shared_ptr<Pair>> pairs;
          for (auto& [end_fd, end] : ends) {
            if (end.second == 0) pairs.push_back(end.first);
          }
          for (auto& p : pairs) close_pair(p, /*reset=*/true);
          last_cut_ = static_cast<int>(pairs.size());
          cut_done_ = requested;
        }
        continue;
      }
      if (fd == listen_fd_) {
        for (;;) {
          const int device = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (device < 0) break;
          const int broker = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
          if (broker < 0) {
            ::close(device);
            continue;
          }
          int one = 1;
          ::setsockopt(device, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ::setsockopt(broker, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          sockaddr_in target{};
          target.sin_family = AF_INET;
          target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          target.sin_port = htons(static_cast<std::uint16_t>(target_port_));
          const int rc = ::connect(broker, reinterpret_cast<sockaddr*>(&target), sizeof target);
          auto p = std::make_shared<Pair>();
          p->fd[0] = device;
          p->fd[1] = broker;
          p->connecting = rc != 0;
          if (rc != 0 && errno != EINPROGRESS) {
            ::close(device);
            ::close(broker);
            continue;
          }
          ends[device] = {p, 0};
          ends[broker] = {p, 1};
          ++connections_;
          ++accepted_;
          for (int side = 0; side < 2; ++side) {
            epoll_event ev{};
            ev.data.fd = p->fd[side];
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, p->fd[side], &ev);
            interest(p, side);
          }
        }
        continue;
      }
      auto it = ends.find(fd);
      if (it == ends.end()) continue;  // closed earlier in this round
      std::shared_ptr<Pair> p = it->second.first;
      const int side = it->second.second;
      if (side == 1 && p->connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0 || (what & (EPOLLERR | EPOLLHUP))) {
          close_pair(p, false);
          continue;
        }
        if (!(what & EPOLLOUT)) continue;
        p->connecting = false;
      }
      bool broken = false;
      if (what & EPOLLOUT) broken = !flush(p, side);
      if (!broken && (what & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        const int other = 1 - side;
        const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
        if (got > 0) {
          p->out[other].append(buffer, static_cast<std::size_t>(got));
          if (!(other == 1 && p->connecting)) broken = !flush(p, other);
        } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          broken = true;
        }
      }
      if (broken) {
        close_pair(p, false);
        continue;
      }
      interest(p, 0);
      interest(p, 1);
    }
  }
  std::vector<std::shared_ptr<Pair>> pairs;
  for (auto& [end_fd, end] : ends) {
    if (end.second == 0) pairs.push_back(end.first);
  }
  for (auto& p : pairs) close_pair(p, false);
}

}  // namespace sparrow::chaos
