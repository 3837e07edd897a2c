// EAL once per test binary: no hugepages, no PCI, no shared config files, a file prefix
// of our own so parallel test runs do not meet. (--in-memory is refused with --no-huge
// on DPDK 22.11: --no-huge implies legacy memory mode.)
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <cstdio>
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
  rte_eal_cleanup();
  return rc;
}
