// main() for GoogleTest binaries that need the EAL (tests/testkit/eal.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testkit/eal.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const baton::testkit::TestEal eal(argv[0], std::filesystem::path(argv[0]).filename().string());
  if (!eal.ok()) return 1;
  return RUN_ALL_TESTS();
}
