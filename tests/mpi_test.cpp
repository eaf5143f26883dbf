// imgcls train --distributed under Open MPI's mpirun, two ranks with one thread each:
//  - the per-step losses and final weights match a single-process run with the same global
//    batch and seed, with a validation split (a batch of 27 over 2 ranks: shards of 14 and
//    13; the last batch of each epoch has 9 images: shards of 5 and 4), and with augmentation;
//  - a distributed run resumed from its checkpoint ends with the uninterrupted run's weights;
//  - two "hosts": one rank in each of two network namespaces joined by a veth pair, Open MPI
//    over TCP between them, launched through a tiny rsh agent that runs `ip netns exec`;
//  - a rank killed with SIGKILL mid-run ends the job with an error in bounded time, and so
//    does a rank that hangs (SIGSTOP), through the collective watchdog;
//  - --distributed without mpirun is a usage error.
// The tests share the synthetic data set and the single-process reference run: CTest makes
// them once in the setup test mpi_test.fixture (MpiFixture.*), in $IMGCLS_MPI_FIXTURE, and
// runs each test in a process of its own; run by hand, the program makes them itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "imgcls/io.hpp"
#include "support/ci.hpp"
#include "support/process.hpp"
#include "support/synthetic.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;
using testing_support::Child;
using testing_support::Outcome;
using Clock = std::chrono::steady_clock;

// Two ranks sum their shards' gradients in a different order than one process sums the
// batch, so the runs differ by float rounding: over these 268 steps of SGD with momentum,
// at most 2.1e-7 on a loss and 3.1e-7 on a weight (measured). The runs use SGD because Adam
// divides by sqrt(v): where a gradient is rounding noise, it turns the noise into full
// steps, and the runs part after some 50 steps (README, "Distributed training"). Even with
// SGD, the rounding differences grow (a ReLU or a max-pool choice flips) until, after a few
// hundred steps, they pass these bounds; with augmentation it happens sooner (below).
constexpr double kLossTolerance = 1e-5;    // per step, absolute, on losses around 0.01 to 2.3
constexpr double kWeightTolerance = 1e-5;  // final weights, absolute
constexpr std::int64_t kImages = 4000;     // 3,600 after --val-split 0.1: 134 steps of 27 per epoch
constexpr std::size_t kSteps = 2 * 134;    // two epochs

// How long a run may take before the test kills it and fails: far beyond what the longest
// here needs (two epochs over two network namespaces: seconds, several times that under the
// sanitizers).
constexpr std::chrono::seconds kRunLimit{180};

class Mpi : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    // OpenMP threads that spin at barriers slow the other rank down many times over on
    // shared cores; every child inherits this.
    ::setenv("OMP_WAIT_POLICY", "passive", 0);
    root_ = fs::temp_directory_path() / ("imgcls_mpi_" + std::to_string(::getpid()));
    fs::create_directories(root_);
    fixture_ = testing_support::shared_fixture_dir("IMGCLS_MPI_FIXTURE", "imgcls_mpi_fixture");
    if (!fixture_.made_by_ctest && !fs::exists(fixture("data"))) write_data();
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // This test's own files; the shared ones are fixture(name).
  static std::string path(const std::string& name) { return (root_ / name).string(); }
  static std::string fixture(const std::string& name) { return (fixture_.dir / name).string(); }

  static void write_data() {
    testing_support::write_synthetic_mnist(fixture_.dir / "data", kImages);
  }

  // The training command shared by every run here; `extra` adds options.
  static std::vector<std::string> train_args(const std::string& out, int epochs,
                                             std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        IMGCLS_BINARY,  "train",  "--data",      fixture("data"),
        "--arch",       "seed",   "--epochs",    std::to_string(epochs),
        "--batch-size", "27",     "--seed",      "5",
        "--threads",    "1",      "--optimizer", "sgd",
        "--momentum",   "0.9",    "--val-split", "0.1",
        "--out",        path(out)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // mpirun's own options before the program: as root, two ranks on however many cores, which
  // CI shares with other jobs: unbound, and yielding the core while waiting for the other
  // rank instead of spinning (README, "Distributed training").
  static std::vector<std::string> mpirun_args(int ranks, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--allow-run-as-root",
                                     "--oversubscribe",
                                     "--bind-to",
                                     "none",
                                     "--mca",
                                     "mpi_yield_when_idle",
                                     "1",
                                     "-np",
                                     std::to_string(ranks)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  static Outcome run_single(const std::vector<std::string>& args) {
    return testing_support::run_process(
        args[0], std::vector<std::string>(args.begin() + 1, args.end()), root_, kRunLimit);
  }
  static Outcome run_mpi(std::vector<std::string> mpirun, const std::vector<std::string>& program) {
    mpirun.insert(mpirun.end(), program.begin(), program.end());
    mpirun.push_back("--distributed");
    return testing_support::run_process(IMGCLS_MPIEXEC, mpirun, root_, kRunLimit);
  }

  // The losses of a --loss-log file, in step order.
  static std::vector<double> losses(const std::string& log) {
    std::ifstream in(log);
    std::vector<double> values;
    int epoch = 0;
    std::int64_t step = 0;
    double loss = 0.0;
    while (in >> epoch >> step >> loss) values.push_back(loss);
    return values;
  }

  static std::vector<float> weights(const std::string& model) {
    Sequential m = load_model(model);
    std::vector<float> values;
    for (const Param& p : m.params())
      values.insert(values.end(), p.value->values().begin(), p.value->values().end());
    return values;
  }

  static double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    return worst;
  }

  // The single-process reference, trained once for the tests that compare with it.
  static void train_reference() {
    const Outcome single =
        run_single(train_args("single.safetensors", 2, {"--loss-log", path("single.log")}));
    ASSERT_EQ(single.exit_code, 0) << single.err;
    fs::copy_file(path("single.log"), fixture("single.log"), fs::copy_options::overwrite_existing);
    fs::copy_file(path("single.safetensors"), fixture("single.safetensors"),
                  fs::copy_options::overwrite_existing);
  }
  static void ensure_reference() {
    if (fs::exists(fixture("single.safetensors"))) return;
    ASSERT_FALSE(fixture_.made_by_ctest) << "no " << fixture("single.safetensors")
                                         << ": CTest's setup test mpi_test.fixture makes it";
    train_reference();
  }

  // Every step's loss within kLossTolerance (or the first `compared` steps'), the final
  // weights within weight_tolerance. `reference` and the two files are paths without and
  // with their extensions.
  static void expect_matches_reference(const std::string& log, const std::string& model,
                                       const std::string& reference = fixture("single"),
                                       std::size_t steps = kSteps, std::size_t compared = kSteps,
                                       double weight_tolerance = kWeightTolerance) {
    const std::vector<double> expected = losses(reference + ".log"), actual = losses(log);
    ASSERT_EQ(expected.size(), steps);
    ASSERT_EQ(actual.size(), expected.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < std::min(compared, expected.size()); ++i) {
      EXPECT_NEAR(actual[i], expected[i], kLossTolerance) << "step " << i + 1;
      worst = std::max(worst, std::fabs(actual[i] - expected[i]));
    }
    const double weight_difference =
        max_difference(weights(model), weights(reference + ".safetensors"));
    EXPECT_LE(weight_difference, weight_tolerance);
    std::printf("largest per-step loss difference %.3g; largest weight difference %.3g\n", worst,
                weight_difference);
  }

  static fs::path root_;
  static testing_support::SharedFixture fixture_;
};
fs::path Mpi::root_;
testing_support::SharedFixture Mpi::fixture_;

// The setup test: the shared files, made afresh (a reference left by an older build would
// hide a change). Registered alone with CTest; first when the program runs by hand.
class MpiFixture : public Mpi {};
TEST_F(MpiFixture, MakesTheDataAndTheSingleProcessReference) {
  if (fixture_.made_by_ctest) {
    fs::remove_all(fixture_.dir);
    write_data();
  }
  train_reference();
  EXPECT_EQ(losses(fixture("single.log")).size(), kSteps);
}

TEST_F(Mpi, TwoRanksMatchOneProcessStepByStep) {
  ASSERT_NO_FATAL_FAILURE(ensure_reference());
  const Outcome dist =
      run_mpi(mpirun_args(2), train_args("dist.safetensors", 2, {"--loss-log", path("dist.log")}));
  ASSERT_EQ(dist.exit_code, 0) << dist.out << dist.err;
  EXPECT_THAT(dist.out, HasSubstr("Distributed over 2 ranks"));
  expect_matches_reference(path("dist.log"), path("dist.safetensors"));
  // Rank 0 alone prints: one summary of the test accuracy.
  EXPECT_EQ(dist.out.find("Test accuracy"), dist.out.rfind("Test accuracy")) << dist.out;
}

// Augmentation draws from one stream per batch: each rank draws the whole batch and keeps
// its shard, so the shards hold exactly the images one process would train on. A wrong
// image in a shard moves that step's loss by about 1e-2 at once; rounding alone stays near
// 1e-7 until the first ReLU or max-pool choice flips and the runs drift apart (measured:
// after step 39 of 134 here, 5.8e-4 by the end, 3.7e-3 on a weight). So the first 30 steps
// are held to kLossTolerance and the final weights only to 2e-2.
constexpr std::size_t kAugmentedSteps = 30;
constexpr double kAugmentedWeightTolerance = 2e-2;
TEST_F(Mpi, TwoRanksMatchOneProcessWithAugmentation) {
  const Outcome single = run_single(
      train_args("single_aug.safetensors", 1, {"--augment", "--loss-log", path("single_aug.log")}));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const Outcome dist = run_mpi(
      mpirun_args(2),
      train_args("dist_aug.safetensors", 1, {"--augment", "--loss-log", path("dist_aug.log")}));
  ASSERT_EQ(dist.exit_code, 0) << dist.out << dist.err;
  expect_matches_reference(path("dist_aug.log"), path("dist_aug.safetensors"), path("single_aug"),
                           kSteps / 2, kAugmentedSteps, kAugmentedWeightTolerance);
}

TEST_F(Mpi, ResumedDistributedRunEndsWithTheUninterruptedWeights) {
  ASSERT_NO_FATAL_FAILURE(ensure_reference());
  const Outcome first = run_mpi(
      mpirun_args(2), train_args("half.safetensors", 1, {"--checkpoint", path("half.ckpt")}));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const Outcome resumed =
      run_mpi(mpirun_args(2), {IMGCLS_BINARY, "train", "--resume", path("half.ckpt"), "--epochs",
                               "2", "--threads", "1", "--out", path("resumed.safetensors")});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_THAT(resumed.out, HasSubstr("Resuming"));
  EXPECT_LE(
      max_difference(weights(path("resumed.safetensors")), weights(fixture("single.safetensors"))),
      kWeightTolerance);
}

// Two network namespaces joined by a veth pair stand for two hosts. mpirun runs in the
// first; it starts Open MPI's daemon for the second through an "rsh agent" that runs the
// command inside that namespace instead of over ssh. TCP only, on the veth subnet. The `ip`
// commands run bounded (kIpLimit), like every child of these tests.
constexpr std::chrono::seconds kIpLimit{30};

class TwoNamespaces {
 public:
  explicit TwoNamespaces(const fs::path& dir)
      : dir_(dir), agent_(dir / "netns_agent.sh"), hostfile_(dir / "hosts") {
    const std::string id = std::to_string(::getpid() % 100000);
    ns_a_ = "imgcls_a" + id, ns_b_ = "imgcls_b" + id;
    veth_a_ = "imva" + id, veth_b_ = "imvb" + id;
    const std::string setup =
        "ip netns add " + ns_a_ + " && ip netns add " + ns_b_ + " && ip link add " + veth_a_ +
        " type veth peer name " + veth_b_ + " && ip link set " + veth_a_ + " netns " + ns_a_ +
        " && ip link set " + veth_b_ + " netns " + ns_b_ + " && ip -n " + ns_a_ +
        " addr add 10.77.0.1/24 dev " + veth_a_ + " && ip -n " + ns_b_ +
        " addr add 10.77.0.2/24 dev " + veth_b_ + " && ip -n " + ns_a_ + " link set " + veth_a_ +
        " up && ip -n " + ns_b_ + " link set " + veth_b_ + " up && ip -n " + ns_a_ +
        " link set lo up && ip -n " + ns_b_ + " link set lo up";
    const Outcome made = testing_support::run_shell(setup, dir, kIpLimit);
    ready_ = made.exit_code == 0;
    if (!ready_) error_ = made.err;
    std::ofstream(agent_)
        << "#!/bin/sh\n"
           "# mpirun's rsh agent: agent HOST COMMAND... runs COMMAND in HOST's namespace.\n"
           "host=$1; shift\n"
           "case \"$host\" in\n"
           "  10.77.0.1) ns="
        << ns_a_
        << ";;\n"
           "  10.77.0.2) ns="
        << ns_b_
        << ";;\n"
           "  *) echo \"netns agent: unknown host $host\" >&2; exit 1;;\n"
           "esac\n"
           "exec ip netns exec \"$ns\" sh -c \"$*\"\n";
    fs::permissions(agent_, fs::perms::owner_all);
    std::ofstream(hostfile_) << "10.77.0.1 slots=1\n10.77.0.2 slots=1\n";
  }
  ~TwoNamespaces() {
    // Deleting a namespace deletes its end of the veth pair, and with it the other end.
    testing_support::run_shell(
        "ip netns del " + ns_a_ + " 2>/dev/null; ip netns del " + ns_b_ + " 2>/dev/null", dir_,
        kIpLimit);
  }
  TwoNamespaces(const TwoNamespaces&) = delete;
  TwoNamespaces& operator=(const TwoNamespaces&) = delete;

  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }
  // `ip netns exec A mpirun ...` with these options starts one rank in each namespace.
  std::vector<std::string> mpirun_prefix() const {
    return {"netns",
            "exec",
            ns_a_,
            IMGCLS_MPIEXEC,
            "--allow-run-as-root",
            "--bind-to",
            "none",
            "--mca",
            "mpi_yield_when_idle",
            "1",
            "-np",
            "2",
            "--hostfile",
            hostfile_.string(),
            "--mca",
            "plm_rsh_agent",
            agent_.string(),
            "--mca",
            "btl",
            "tcp,self",
            "--mca",
            "btl_tcp_if_include",
            "10.77.0.0/24",
            "--mca",
            "oob_tcp_if_include",
            "10.77.0.0/24"};
  }
  // Bytes received on the first namespace's veth end.
  std::int64_t received_bytes() const {
    const Outcome read = testing_support::run_process(
        IMGCLS_IP,
        {"netns", "exec", ns_a_, "cat", "/sys/class/net/" + veth_a_ + "/statistics/rx_bytes"}, dir_,
        kIpLimit);
    std::int64_t bytes = -1;
    std::istringstream(read.out) >> bytes;
    return bytes;
  }

 private:
  fs::path dir_, agent_, hostfile_;
  std::string ns_a_, ns_b_, veth_a_, veth_b_, error_;
  bool ready_ = false;
};

TEST_F(Mpi, TwoHostsOverTcpBetweenNetworkNamespaces) {
  ASSERT_NO_FATAL_FAILURE(ensure_reference());
  const TwoNamespaces hosts(root_);
  if (!hosts.ready())
    IMGCLS_SKIP_OR_FAIL_UNDER_CI(
        "cannot create network namespaces here (needs root and iproute2): " + hosts.error());
  std::vector<std::string> args = hosts.mpirun_prefix();
  const std::vector<std::string> program =
      train_args("hosts.safetensors", 2, {"--loss-log", path("hosts.log")});
  args.insert(args.end(), program.begin(), program.end());
  args.push_back("--distributed");
  const Outcome dist = testing_support::run_process(IMGCLS_IP, args, root_, kRunLimit);
  ASSERT_EQ(dist.exit_code, 0) << dist.out << dist.err;
  // 268 exchanges of ~0.5 MB of gradients crossed the veth pair, not shared memory.
  EXPECT_GT(hosts.received_bytes(), static_cast<std::int64_t>(kSteps) * 100'000)
      << "the ranks did not talk over the veth pair";
  expect_matches_reference(path("hosts.log"), path("hosts.safetensors"));
}

// The pid of the rank-`rank` process among mpirun's children, or -1.
pid_t find_rank(pid_t mpirun, int rank) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream stat(testing_support::read_file(entry.path() / "stat"));
    std::string pid, comm, state;
    pid_t parent = 0;
    stat >> pid >> comm >> state >> parent;
    if (parent != mpirun) continue;
    const std::string environment = testing_support::read_file(entry.path() / "environ");
    std::istringstream variables(environment);
    for (std::string variable; std::getline(variables, variable, '\0');)
      if (variable == wanted) return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// Starts a long distributed run, waits until it trains, sends `signal_number` to rank 1,
// and returns how the job ended and how long after the signal. The job is given
// kEndLimit to end after the signal (the tests expect well under that), then killed.
constexpr std::chrono::seconds kEndLimit{60};
std::pair<Outcome, double> signal_rank_mid_run(const std::vector<std::string>& args,
                                               const std::string& loss_log, int signal_number) {
  Child mpirun(IMGCLS_MPIEXEC, args, fs::path(loss_log).parent_path());
  EXPECT_TRUE(mpirun.started());
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  pid_t victim = -1;
  while (victim <= 0 && Clock::now() < give_up) {
    if (fs::exists(loss_log) && fs::file_size(loss_log) > 200)
      victim = find_rank(mpirun.pid(), 1);  // training
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (victim <= 0) {
    mpirun.send(SIGKILL);
    ADD_FAILURE() << "found no rank 1 in training";
    return {mpirun.wait(kEndLimit), 0.0};
  }
  ::kill(victim, signal_number);
  const auto signalled_at = Clock::now();
  Outcome outcome = mpirun.wait(kEndLimit);
  const double seconds = std::chrono::duration<double>(Clock::now() - signalled_at).count();
  ::kill(victim, SIGKILL);  // a stopped rank outlives the job's SIGTERM
  return {outcome, seconds};
}

TEST_F(Mpi, KilledRankEndsTheJobWithAnErrorInBoundedTime) {
  constexpr double kBoundSeconds = 30.0;
  std::vector<std::string> args = mpirun_args(2);
  const std::vector<std::string> program = train_args(
      "killed.safetensors", 1000, {"--loss-log", path("killed.log"), "--dist-timeout", "10"});
  args.insert(args.end(), program.begin(), program.end());
  args.push_back("--distributed");
  // mpirun sees the rank die and ends the job itself.
  const auto [outcome, seconds] = signal_rank_mid_run(args, path("killed.log"), SIGKILL);
  EXPECT_NE(outcome.exit_code, 0) << outcome.err;
  EXPECT_LT(seconds, kBoundSeconds);
  std::printf("the job ended %.2f s after the kill, exit code %d\n", seconds, outcome.exit_code);
}

TEST_F(Mpi, HungRankEndsTheJobThroughTheWatchdog) {
  constexpr double kTimeoutSeconds = 3.0, kSlackSeconds = 10.0;
  std::vector<std::string> args = mpirun_args(2);
  const std::vector<std::string> program = train_args(
      "hung.safetensors", 1000,
      {"--loss-log", path("hung.log"), "--dist-timeout", std::to_string(kTimeoutSeconds)});
  args.insert(args.end(), program.begin(), program.end());
  args.push_back("--distributed");
  // A stopped rank looks alive to mpirun; rank 0's watchdog ends the job.
  const auto [outcome, seconds] = signal_rank_mid_run(args, path("hung.log"), SIGSTOP);
  EXPECT_EQ(outcome.exit_code, 1) << outcome.err;
  EXPECT_THAT(outcome.err, HasSubstr("MPI_Allreduce has not completed after 3 s"));
  EXPECT_GE(seconds, kTimeoutSeconds - 0.5);
  EXPECT_LT(seconds, kTimeoutSeconds + kSlackSeconds);
  std::printf("the watchdog ended the job %.2f s after rank 1 stopped\n", seconds);
}

TEST_F(Mpi, DistributedWithoutMpirunIsAUsageError) {
  const Outcome outcome = run_single(train_args("none.safetensors", 1, {"--distributed"}));
  EXPECT_EQ(outcome.exit_code, 2);
  EXPECT_THAT(outcome.err, HasSubstr("mpirun"));
}

}  // namespace
}  // namespace imgcls
