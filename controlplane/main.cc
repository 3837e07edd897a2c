// The baton binary: `baton run`, `baton check-config`, `baton ctl`, `--version`, `--help`.
// Control-plane code: it sees the data plane only through dataplane/api/.
#include <CLI/CLI.hpp>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <span>
#include <vector>

#include "controlplane/api.h"
#include "controlplane/api_server.h"
#include "controlplane/config.h"
#include "controlplane/ctl.h"
#include "controlplane/log_format.h"
#include "controlplane/metrics.h"
#include "controlplane/metrics_http.h"
#include "controlplane/reload.h"
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
  for (const auto& p : c.pools) s += "\n  pool " + p.name + ": " + std::to_string(p.backends.size()) + " backend(s)";
  for (const auto& l : c.listeners) {
    s += "\n  listener " + l.name + ": " + l.vip.ToString() + ":" + std::to_string(l.port) + " " +
         (l.mode == baton::dp::ListenerMode::kTls ? "tls" : "tcp") + " -> pool " + c.pools[l.pool].name;
    if (l.mode == baton::dp::ListenerMode::kTls)
      s += " (" + std::to_string(l.tls.certificates.size()) + " certificate(s), " +
           std::to_string(l.tls.routes.size()) + " route(s))";
  }
  return s;
}

// Config errors, then certificate errors (which need the files the config names).
int CheckConfig(const std::string& path) {
  try {
    const baton::dp::ConfigSnapshot c = baton::cp::LoadConfig(path);
    if (const std::vector<std::string> bad = baton::dp::CheckTls(c); !bad.empty()) {
      for (const std::string& e : bad) std::cerr << e << "\n";
      return 1;
    }
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
  std::string name = "baton";
  std::string api_socket;                  // empty: DefaultApiSocketPath(name)
  std::string metrics = "127.0.0.1:9180";  // "off": no metrics endpoint
  std::vector<std::string> eal;
  std::string log_level = "info";
};

// The workers' log records as JSON lines on stderr (docs/API.md, "Logs").
void WriteDataplaneLogs(std::vector<baton::dp::LogRecord>& records) {
  records.clear();
  if (baton::dp::DrainLogs(records) == 0) return;
  for (const baton::dp::LogRecord& r : records) std::cerr << baton::cp::LogLine(r) << '\n';
  std::cerr.flush();
}

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

  // The API socket and the metrics port come first: a clash is reported before the
  // data plane takes the NICs. Both are served from the loop below, on this lcore.
  // Live reload runs on this lcore, from the API; `config` is what the API answers from,
  // replaced only by a reload that succeeded.
  baton::cp::Reloader reloader(config, {[](const baton::dp::ConfigSnapshot& next) { return baton::dp::Reconfigure(next); },
                                        [] { return baton::dp::ReloadCertificates(); },
                                        [] { return baton::dp::RotateTicketKeys(); }});
  const auto stats = [&reloader] {
    baton::dp::StatsSnapshot s = baton::dp::SnapshotStats();
    s.reload = reloader.Stats();
    return s;
  };
  baton::cp::ApiSources sources{stats, &config, BATON_VERSION,
                                [](const baton::dp::BackendChange& change) { return baton::dp::ChangeBackend(change); }};
  sources.reload = [&reloader](const std::string& path) { return reloader.Reload(path); };
  sources.reload_certs = [&reloader] { return reloader.ReloadCertificates(); };
  sources.rotate_ticket_keys = [&reloader] { return reloader.RotateTicketKeys(); };
  sources.halt_worker = [](uint16_t worker) { return baton::dp::HaltWorker(worker); };
  sources.list_sessions = [](const baton::dp::SessionFilter& f, uint64_t& matched) {
    return baton::dp::ListSessions(f, matched);
  };
  sources.rebalance = [](uint16_t from, uint16_t to, double share, uint64_t& moved) {
    return baton::dp::Rebalance(from, to, share, 3000, moved);  // below ctl's own timeout
  };
  baton::cp::ApiServer api(std::move(sources));
  const std::string api_path = args.api_socket.empty() ? baton::cp::DefaultApiSocketPath(args.name) : args.api_socket;
  if (const std::string err = api.Listen(api_path); !err.empty()) {
    std::cerr << "baton: API socket: " << err << std::endl;
    return 1;
  }
  baton::cp::MetricsServer metrics([&stats] { return baton::cp::MetricsText(stats(), BATON_VERSION); });
  if (args.metrics != "off") {
    const auto at = baton::cp::HostPort::Parse(args.metrics);
    if (!at) {
      std::cerr << "baton: --metrics wants ADDR:PORT (IPv4) or off, got " << args.metrics << std::endl;
      return 1;
    }
    if (const std::string err = metrics.Start(*at); !err.empty()) {
      std::cerr << "baton: " << err << std::endl;
      return 1;
    }
  }
  std::cout << "baton: API on " << api_path << ", metrics "
            << (args.metrics == "off" ? std::string("off") : "on http://" + args.metrics + "/metrics") << std::endl;
  InstallSignalHandlers();
  baton::dp::StartOptions start{args.eal};
  start.log_level = baton::dp::ParseLogLevel(args.log_level).value_or(baton::dp::LogLevel::kInfo);
  if (const std::string err = baton::dp::Start(config, start); !err.empty()) {
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
  std::vector<pollfd> fds;
  std::vector<baton::dp::LogRecord> log_records;
  log_records.reserve(4096);
  while (!g_stop.load()) {
    WriteDataplaneLogs(log_records);
    // 50 ms at most per pass: the stats file, --duration and signals are checked this
    // often. A signal ends the wait early (EINTR), which is fine: no descriptor is ready.
    fds.clear();
    metrics.AppendPollFds(fds);
    const size_t api_first = fds.size();
    api.AppendPollFds(fds);
    if (poll(fds.data(), fds.size(), 50) < 0)
      for (pollfd& p : fds) p.revents = 0;
    const auto now = Clock::now();
    if (api_first > 0) metrics.Service(fds[0]);
    api.Service(std::span<const pollfd>(fds).subspan(api_first), now);
    if (!args.stats_file.empty() && now >= next_stats) {
      if (!baton::cp::WriteStatsFile(args.stats_file, stats()))
        std::cerr << "baton: cannot write " << args.stats_file << std::endl;
      next_stats = now + std::chrono::milliseconds(args.stats_interval_ms);
    }
    if (args.duration_s > 0 && now - started >= std::chrono::duration<double>(args.duration_s)) break;
  }
  std::cout << "baton: stopping" << std::endl;
  metrics.Stop();  // before the data plane goes: no scrape may render after Stop()
  api.Close();
  baton::dp::StatsSnapshot final_stats = baton::dp::Stop();
  final_stats.reload = reloader.Stats();
  WriteDataplaneLogs(log_records);
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

  run->add_option("--name", run_args.name, "this box's name; the API socket is /run/baton/NAME.sock")
      ->check(CLI::Validator(
          [](std::string& v) { return v.find('/') == std::string::npos && !v.empty() ? "" : "no '/' in a name"; },
          "NAME"));
  run->add_option("--api-socket", run_args.api_socket, "runtime API socket (default /run/baton/NAME.sock)");
  run->add_option("--metrics", run_args.metrics, "Prometheus metrics on http://ADDR:PORT/metrics, or off")
      ->capture_default_str();
  run->add_option("--log-level", run_args.log_level, "data-plane log records below this level are dropped")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();

  std::string ctl_socket, ctl_name = "baton", ctl_command;
  std::vector<std::string> ctl_args;
  bool ctl_json = false;
  CLI::App* ctl = app.add_subcommand("ctl", "ask a running baton: baton ctl [--socket PATH] COMMAND [--json]");
  ctl->add_option("--socket", ctl_socket, "API socket (default /run/baton/NAME.sock)");
  ctl->add_option("--name", ctl_name, "the box's name, when --socket is not given")->capture_default_str();
  ctl->add_flag("--json", ctl_json, "print the answer as JSON");
  std::vector<std::string> ctl_names;
  std::string ctl_help = "one of:";
  for (const auto& c : baton::cp::CtlCommands()) {
    ctl_names.push_back(c.name);
    ctl_help += "\n  " + c.name + ": " + c.help;
  }
  ctl->add_option("command", ctl_command, ctl_help)->required()->check(CLI::IsMember(ctl_names));
  ctl->add_option("args", ctl_args, "the command's arguments (backend POOL ADDRESS:PORT ACTION [N]; reload [FILE])");
  ctl->footer("exit status: 0 ok, 1 baton answered with an error, 2 usage error or cannot connect");

  std::string check_path;
  CLI::App* check = app.add_subcommand("check-config", "validate a config file and exit: 0 if valid, 1 if not");
  check->add_option("file", check_path, "config file (TOML)")->required();

  try {
    app.parse(own_argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // baton ctl promises 2 for every usage error (CLI11 has its own numbers).
    return rc != 0 && own_argc > 1 && std::string(argv[1]) == "ctl" ? baton::cp::kCtlCannotConnect : rc;
  }
  if (!eal.empty() && !run->parsed()) {
    std::cerr << "baton: EAL arguments after -- are only for 'run'\n";
    return 2;
  }
  if (check->parsed()) return CheckConfig(check_path);
  if (ctl->parsed()) {
    return baton::cp::RunCtl(ctl_socket.empty() ? baton::cp::DefaultApiSocketPath(ctl_name) : ctl_socket,
                             ctl_command, ctl_args, ctl_json, std::cout, std::cerr);
  }
  run_args.eal = std::move(eal);
  return Run(run_args);
}
