// EAL once per test binary: no hugepages, no PCI, no shared config files, a file prefix
// of our own so parallel test runs do not meet. (--in-memory is refused with --no-huge
// on DPDK 22.11: --no-huge implies legacy memory mode.)
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string prefix = "--file-prefix=state_tests_" + std::to_string(getpid());
  char* eal_args[] = {argv[0],
                      const_cast<char*>("--no-huge"),
                      const_cast<char*>("-m"),
                      const_cast<char*>("256"),
                      const_cast<char*>("--no-shconf"),
                      prefix.data(),
                      const_cast<char*>("--no-pci"),
                      const_cast<char*>("-l"),
                      const_cast<char*>("0"),
                      const_cast<char*>("--log-level=error")};
  if (rte_eal_init(int(std::size(eal_args)), eal_args) < 0) {
    std::fprintf(stderr, "state_tests: rte_eal_init failed\n");
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  // EAL leaves its (empty) runtime folder behind, even with --no-shconf: remove ours.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ignored;
  std::filesystem::remove_all(runtime_dir, ignored);
  return rc;
}
