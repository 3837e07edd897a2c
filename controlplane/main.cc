// The baton binary: `baton run`, `baton check-config`, `--version`, `--help`.
// Control-plane code: it sees the data plane only through dataplane/api/.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/config.h"
#include "controlplane/stats_report.h"
#include "dataplane/api/control.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string Describe(const baton::dp::ConfigSnapshot& c) {
  std::string s = std::to_string(c.ports.size()) + " port(s), " + std::to_string(c.dataplane.workers) +
                  " worker(s), idle back-off " + std::to_string(c.dataplane.idle_backoff_us) + " us";
  for (const auto& p : c.ports) s += "\n  port " + p.name + ": " + p.address.ToString() + " on " + p.device;
  return s;
}

int CheckConfig(const std::string& path) {
  try {
    const baton::dp::ConfigSnapshot c = baton::cp::LoadConfig(path);
    std::cout << path << ": ok\n" << Describe(c) << "\n";
    return 0;
  } catch (const baton::cp::ConfigError& e) {
    std::cerr << e.what() << (std::string(e.what()).ends_with('\n') ? "" : "\n");
    return 1;
  }
}

struct RunArgs {
  std::string config;
  std::string stats_file;
  uint32_t stats_interval_ms = 1000;
  double duration_s = 0;
  std::vector<std::string> eal;
};

int Run(const RunArgs& args) {
  baton::dp::ConfigSnapshot config;
  try {
    config = baton::cp::LoadConfig(args.config);
  } catch (const baton::cp::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  config.generation = 1;
  std::cout << "baton " << BATON_VERSION << ": " << Describe(config) << std::endl;
  InstallSignalHandlers();
  if (const std::string err = baton::dp::Start(config, {args.eal}); !err.empty()) {
    std::cerr << "baton: " << err << std::endl;
    return 1;
  }
  for (const auto& p : baton::dp::SnapshotStats().ports)
    std::cout << "port " << p.name << ": driver " << p.driver << ", MAC " << p.mac << ", RSS "
              << (p.rss ? "on" : "off") << ", IPv4 checksum offload rx " << (p.rx_ip_checksum_offload ? "on" : "off")
              << " tx " << (p.tx_ip_checksum_offload ? "on" : "off") << std::endl;
  std::cout << "baton: running; SIGINT or SIGTERM stops it" << std::endl;

  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto next_stats = started;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto now = Clock::now();
    if (!args.stats_file.empty() && now >= next_stats) {
      if (!baton::cp::WriteStatsFile(args.stats_file, baton::dp::SnapshotStats()))
        std::cerr << "baton: cannot write " << args.stats_file << std::endl;
      next_stats = now + std::chrono::milliseconds(args.stats_interval_ms);
    }
    if (args.duration_s > 0 && now - started >= std::chrono::duration<double>(args.duration_s)) break;
  }
  std::cout << "baton: stopping" << std::endl;
  const baton::dp::StatsSnapshot final_stats = baton::dp::Stop();
  if (!args.stats_file.empty()) (void)baton::cp::WriteStatsFile(args.stats_file, final_stats);
  std::cout << baton::cp::StatsReport(final_stats) << "baton: stopped" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything after a bare "--" belongs to DPDK's EAL, untouched.
  std::vector<std::string> eal;
  int own_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      own_argc = i;
      eal.assign(argv + i + 1, argv + argc);
      break;
    }
  }

  CLI::App app{"baton: a userspace TLS load balancer on DPDK"};
  app.set_version_flag("--version", std::string("baton ") + BATON_VERSION);
  app.require_subcommand(1);

  RunArgs run_args;
  CLI::App* run = app.add_subcommand("run", "run the data plane: baton run --config FILE [-- EAL args]");
  run->add_option("-c,--config", run_args.config, "config file (TOML)")->required()->check(CLI::ExistingFile);
  run->add_option("--stats-file", run_args.stats_file, "write counters as JSON here, atomically");
  run->add_option("--stats-interval-ms", run_args.stats_interval_ms, "how often to write the stats file")
      ->check(CLI::Range(10u, 3'600'000u));
  run->add_option("--duration", run_args.duration_s, "stop by itself after this many seconds (0: run until signalled)")
      ->check(CLI::NonNegativeNumber);

  std::string check_path;
  CLI::App* check = app.add_subcommand("check-config", "validate a config file and exit: 0 if valid, 1 if not");
  check->add_option("file", check_path, "config file (TOML)")->required();

  try {
    app.parse(own_argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!eal.empty() && !run->parsed()) {
    std::cerr << "baton: EAL arguments after -- are only for 'run'\n";
    return 2;
  }
  if (check->parsed()) return CheckConfig(check_path);
  run_args.eal = std::move(eal);
  return Run(run_args);
}
