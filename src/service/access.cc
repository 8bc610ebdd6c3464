// Parsing the access configuration and checking heap permissions.
#include "service/access.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/size.h"

namespace dmaheap::service {
namespace {

std::optional<uint32_t> parseNumber(std::string_view s, int base) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<uint32_t> lookupUser(const std::string& s) {
  if (auto n = parseNumber(s, 10)) return n;
  passwd pw{}, *res = nullptr;
  char buf[4096];
  if (::getpwnam_r(s.c_str(), &pw, buf, sizeof buf, &res) == 0 && res) return res->pw_uid;
  return std::nullopt;
}

std::optional<uint32_t> lookupGroup(const std::string& s) {
  if (auto n = parseNumber(s, 10)) return n;
  group gr{}, *res = nullptr;
  char buf[4096];
  if (::getgrnam_r(s.c_str(), &gr, buf, sizeof buf, &res) == 0 && res) return res->gr_gid;
  return std::nullopt;
}

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

}  // namespace

AccessConfig AccessConfig::defaults() {
  AccessConfig c;
  c.default_heap.owner = ::geteuid();
  c.default_heap.group = ::getegid();
  c.default_heap.mode = 0666;
  return c;
}

Result<AccessConfig> AccessConfig::parse(std::string_view text) {
  AccessConfig c = defaults();
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    auto bad = [&](const std::string& why) {
      return makeError(EINVAL, "line " + std::to_string(number) + ": " + why);
    };
    if (w[0] == "heap") {
      if (w.size() < 2) return bad("'heap' needs a heap name (or *)");
      HeapAccess a = w[1] == "*" ? c.default_heap : c.forHeap(w[1]);
      for (size_t i = 2; i < w.size(); ++i) {
        const auto eq = w[i].find('=');
        if (eq == std::string::npos) return bad("expected key=value, got '" + w[i] + "'");
        const std::string key = w[i].substr(0, eq), value = w[i].substr(eq + 1);
        if (key == "owner") {
          auto uid = lookupUser(value);
          if (!uid) return bad("unknown user '" + value + "'");
          a.owner = *uid;
        } else if (key == "group") {
          auto gid = lookupGroup(value);
          if (!gid) return bad("unknown group '" + value + "'");
          a.group = *gid;
        } else if (key == "mode") {
          auto mode = parseNumber(value, 8);
          if (!mode || *mode > 07777) return bad("mode must be octal, at most 07777: '" + value + "'");
          a.mode = *mode;
        } else {
          return bad("unknown heap setting '" + key + "' (owner, group, mode)");
        }
      }
      if (w[1] == "*") {
        c.default_heap = a;
      } else {
        c.heaps[w[1]] = a;
      }
    } else if (w[0] == "quota") {
      if (w.size() != 3) return bad("expected 'quota USER|UID|* BYTES'");
      auto bytes = parseSize(w[2]);
      if (!bytes) return bad("bad size '" + w[2] + "': " + bytes.error().message());
      if (w[1] == "*") {
        c.default_quota = *bytes;
      } else {
        auto uid = lookupUser(w[1]);
        if (!uid) return bad("unknown user '" + w[1] + "'");
        c.quotas[*uid] = *bytes;
      }
    } else if (w[0] == "limit") {
      if (w.size() != 4) return bad("expected 'limit USER|UID|* connections|requests|buffers COUNT'");
      size_t count = 0;
      auto [end, ec] = std::from_chars(w[3].data(), w[3].data() + w[3].size(), count, 10);
      if (ec != std::errc() || end != w[3].data() + w[3].size() || count == 0) {
        return bad("a limit must be a positive count, got '" + w[3] + "'");
      }
      UidLimits* l = &c.default_limits;
      if (w[1] != "*") {
        auto uid = lookupUser(w[1]);
        if (!uid) return bad("unknown user '" + w[1] + "'");
        l = &c.limits[*uid];
      }
      if (w[2] == "connections") {
        l->connections = count;
      } else if (w[2] == "requests") {
        l->requests = count;
      } else if (w[2] == "buffers") {
        l->buffers = count;
      } else {
        return bad("unknown limit '" + w[2] + "' (connections, requests, buffers)");
      }
    } else {
      return bad("unknown directive '" + w[0] + "' (heap, quota, limit)");
    }
  }
  return c;
}

Result<AccessConfig> AccessConfig::fromFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    const int e = errno != 0 ? errno : ENOENT;
    return makeError(e, path + ": " + std::strerror(e));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  auto c = parse(ss.str());
  if (!c) return makeError(c.error().code(), path + ": " + c.error().message());
  return c;
}

const HeapAccess& AccessConfig::forHeap(const std::string& heap) const {
  auto it = heaps.find(heap);
  return it == heaps.end() ? default_heap : it->second;
}

std::optional<uint64_t> AccessConfig::quotaFor(uint32_t uid) const {
  auto it = quotas.find(uid);
  if (it != quotas.end()) return it->second;
  return default_quota;
}

UidLimits AccessConfig::limitsFor(uint32_t uid) const {
  UidLimits l = default_limits;
  if (auto it = limits.find(uid); it != limits.end()) {
    if (it->second.connections) l.connections = it->second.connections;
    if (it->second.requests) l.requests = it->second.requests;
    if (it->second.buffers) l.buffers = it->second.buffers;
  }
  return l;
}

Status AccessConfig::checkOpen(const std::string& heap, const PeerCredentials& who) const {
  if (who.uid == 0) return {};
  const HeapAccess& a = forHeap(heap);
  uint32_t bits;
  if (who.uid == a.owner) {
    bits = a.mode >> 6;
  } else if (who.gid == a.group || std::find(who.groups.begin(), who.groups.end(), a.group) != who.groups.end()) {
    bits = a.mode >> 3;
  } else {
    bits = a.mode;
  }
  if (bits & 4) return {};
  return makeError(EACCES, "heap '" + heap + "' is owner " + std::to_string(a.owner) + " group " +
                               std::to_string(a.group) + " mode " + octal(a.mode) + ": uid " +
                               std::to_string(who.uid) + " gid " + std::to_string(who.gid) + " may not open it");
}

}  // namespace dmaheap::service
