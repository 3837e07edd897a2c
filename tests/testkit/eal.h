// The EAL for test and bench binaries that need DPDK memory (the shared session
// tables): no hugepages, no PCI, no shared config files, one lcore, and a file prefix
// of the process's own so that parallel runs never meet. The destructor cleans the EAL
// up and removes its (empty) runtime folder, which DPDK leaves behind even with
// --no-shconf. (--in-memory is refused with --no-huge on DPDK 22.11: --no-huge implies
// legacy memory mode.)
#pragma once

#include <rte_eal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iterator>
#include <string>

namespace baton::testkit {

class TestEal {
 public:
  // `name`: the binary's name, for the file prefix and the error message.
  TestEal(const char* argv0, const std::string& name) {
    std::string prefix = "--file-prefix=" + name + "_" + std::to_string(getpid());
    char* args[] = {const_cast<char*>(argv0),
                    const_cast<char*>("--no-huge"),
                    const_cast<char*>("-m"),
                    const_cast<char*>("512"),
                    const_cast<char*>("--no-shconf"),
                    prefix.data(),
                    const_cast<char*>("--no-pci"),
                    const_cast<char*>("-l"),
                    const_cast<char*>("0"),
                    const_cast<char*>("--log-level=error")};
    ok_ = rte_eal_init(int(std::size(args)), args) >= 0;
    if (!ok_) std::fprintf(stderr, "%s: rte_eal_init failed\n", name.c_str());
  }
  ~TestEal() {
    if (!ok_) return;
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ignored;
    std::filesystem::remove_all(runtime_dir, ignored);
  }
  TestEal(const TestEal&) = delete;
  TestEal& operator=(const TestEal&) = delete;
  bool ok() const noexcept { return ok_; }

 private:
  bool ok_ = false;
};

}  // namespace baton::testkit
