// Scanning /proc for the holders of memfds.
#include "service/holders.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

namespace dmaheap::service {
namespace {

bool isNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

std::string readComm(const std::string& dir) {
  std::ifstream f(dir + "/comm");
  std::string comm;
  std::getline(f, comm);
  return comm;
}

}  // namespace

std::map<FileId, std::vector<ProcessHold>> scanHolders(const std::set<FileId>& files, const std::string& proc_root) {
  std::map<FileId, std::vector<ProcessHold>> out;
  if (files.empty()) return out;
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir(proc_root.c_str()), ::closedir);
  if (!proc) return out;
  while (dirent* de = ::readdir(proc.get())) {
    if (!isNumber(de->d_name)) continue;
    const std::string dir = proc_root + "/" + de->d_name;
    std::map<FileId, ProcessHold> mine;
    // Open fds: readlink first, stat only memfds.
    if (std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir((dir + "/fd").c_str()), ::closedir); fds) {
      while (dirent* f = ::readdir(fds.get())) {
        if (!isNumber(f->d_name)) continue;
        const std::string link = dir + "/fd/" + f->d_name;
        char target[64];
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        if (std::strncmp(target, "/memfd:", 7) != 0) continue;
        struct stat st {};
        if (::stat(link.c_str(), &st) != 0) continue;
        const FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
        if (files.count(id)) ++mine[id].fds;
      }
    }
    // Mappings: "start-end perms offset MAJ:MIN inode path".
    if (std::ifstream maps(dir + "/maps"); maps) {
      for (std::string line; std::getline(maps, line);) {
        if (line.find("/memfd:") == std::string::npos) continue;
        unsigned major = 0, minor = 0;
        unsigned long long ino = 0;
        if (std::sscanf(line.c_str(), "%*s %*s %*s %x:%x %llu", &major, &minor, &ino) != 3) continue;
        const FileId id{static_cast<uint64_t>(::makedev(major, minor)), ino};
        if (files.count(id)) ++mine[id].mappings;
      }
    }
    if (mine.empty()) continue;
    const std::string comm = readComm(dir);
    for (auto& [id, hold] : mine) {
      hold.pid = std::atoi(de->d_name);
      hold.comm = comm;
      out[id].push_back(hold);
    }
  }
  return out;
}

}  // namespace dmaheap::service
