// The C interface (libimgcls_c) under concurrency, as its header promises: "One model may be
// shared between threads" and "the last error is per thread".
//  - one imgcls_model*, 8 threads started together, each classifying its own seeded mix of
//    MNIST digits (imgcls_predict), the same digits as 8-bit pictures (imgcls_predict_grey8,
//    half of them inverted in padded rows) and the picture files of tests/images/digits
//    (imgcls_predict_file), 300 calls each: every label and probability equals, bit for bit,
//    the single-threaded answer for the same input;
//  - two models loaded from the same file, each shared by 4 threads at once: the same;
//  - imgcls_last_error: threads that fail (each with its own file name or capacity in the
//    message) and threads that succeed, in lock step (a barrier between the calls and the
//    reads), each read their own message or "".
// Linked against the shared library alone, as a C user would be; MNIST is read from its IDX
// file here (data/mnist, the test fails when it is missing).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "imgcls/imgcls.h"

namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kDigitsDir = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits";
const std::string kMnistImages = std::string(IMGCLS_MNIST_DIR) + "/t10k-images-idx3-ubyte";
constexpr int kSide = 28;
constexpr int kClasses = 10;
constexpr int kMnistDigits = 300;  // the first MNIST test images, used two ways
constexpr int kThreads = 8;
constexpr int kCallsPerThread = 300;
constexpr std::size_t kPaddedStride = 33;  // rows of the inverted 8-bit pictures
constexpr float kMaxGrey = 255.0f;

std::string last_error() { return imgcls_last_error(); }

// The first `count` images of an uncompressed MNIST IDX image file, as bytes.
std::vector<std::vector<std::uint8_t>> read_mnist_bytes(const std::string& path, int count) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(
        path + ": cannot open (scripts/setup.sh installs MNIST; in a worktree, link data/ to it)");
  std::array<unsigned char, 16> header{};
  in.read(reinterpret_cast<char*>(header.data()), header.size());
  const auto be32 = [&](int at) {
    return std::uint32_t(header[at]) << 24 | std::uint32_t(header[at + 1]) << 16 |
           std::uint32_t(header[at + 2]) << 8 | std::uint32_t(header[at + 3]);
  };
  if (!in || be32(0) != 0x803 || be32(4) < std::uint32_t(count) || be32(8) != kSide ||
      be32(12) != kSide)
    throw std::runtime_error(path + ": not an MNIST image file of at least " +
                             std::to_string(count) + " 28x28 images");
  std::vector<std::vector<std::uint8_t>> images(count, std::vector<std::uint8_t>(kSide * kSide));
  for (auto& image : images)
    in.read(reinterpret_cast<char*>(image.data()), std::streamsize(image.size()));
  if (!in) throw std::runtime_error(path + ": truncated");
  return images;
}

// One call into the C interface and the input it takes.
struct Job {
  enum class Kind { floats, grey8, grey8_inverted, file } kind;
  std::string name;
  std::vector<float> pixels;       // floats
  std::vector<std::uint8_t> grey;  // grey8, grey8_inverted
  std::string path;                // file
};

// An answer: the label (or a negative status) and the probabilities.
struct Answer {
  int label = -100;
  std::array<float, kClasses> probabilities{};
  bool operator==(const Answer& other) const {
    return label == other.label && std::memcmp(probabilities.data(), other.probabilities.data(),
                                               sizeof(probabilities)) == 0;
  }
};

Answer run(imgcls_model* model, const Job& job) {
  Answer answer;
  float* out = answer.probabilities.data();
  switch (job.kind) {
    case Job::Kind::floats:
      answer.label = imgcls_predict(model, job.pixels.data(), kSide, kSide, out, kClasses);
      break;
    case Job::Kind::grey8:
      answer.label =
          imgcls_predict_grey8(model, job.grey.data(), kSide, kSide, kSide, out, kClasses);
      break;
    case Job::Kind::grey8_inverted:
      answer.label =
          imgcls_predict_grey8(model, job.grey.data(), kSide, kSide, kPaddedStride, out, kClasses);
      break;
    case Job::Kind::file:
      answer.label = imgcls_predict_file(model, job.path.c_str(), out, kClasses);
      break;
  }
  return answer;
}

std::vector<Job> all_jobs() {
  std::vector<Job> jobs;
  const auto digits = read_mnist_bytes(kMnistImages, kMnistDigits);
  for (int n = 0; n < kMnistDigits; ++n) {
    const std::string name = "MNIST test image " + std::to_string(n);
    Job floats{Job::Kind::floats, name + " (floats)", {}, {}, {}};
    for (std::uint8_t v : digits[n]) floats.pixels.push_back(float(v) / kMaxGrey);
    jobs.push_back(std::move(floats));
    if (n % 2 == 0) {
      jobs.push_back({Job::Kind::grey8, name + " (grey8)", {}, digits[n], {}});
    } else {
      Job inverted{Job::Kind::grey8_inverted, name + " (grey8, inverted)", {}, {}, {}};
      inverted.grey.assign(kPaddedStride * kSide, 0);
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x)
          inverted.grey[y * kPaddedStride + x] = std::uint8_t(255 - digits[n][y * kSide + x]);
      jobs.push_back(std::move(inverted));
    }
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kDigitsDir))
    files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) jobs.push_back({Job::Kind::file, file, {}, {}, file});
  return jobs;
}

// Thread t's calls: a seeded draw from all jobs, so each thread has its own mix and order.
std::vector<std::size_t> mix_for(int thread, std::size_t job_count) {
  std::mt19937 pick(1000 + thread);
  std::uniform_int_distribution<std::size_t> index(0, job_count - 1);
  std::vector<std::size_t> mix(kCallsPerThread);
  for (auto& i : mix) i = index(pick);
  return mix;
}

class CApiThreads : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    jobs_ = new std::vector<Job>(all_jobs());
    imgcls_model* model = imgcls_model_load(kModel.c_str());
    if (model == nullptr) throw std::runtime_error(last_error());
    // The single-threaded answers, one job after the other on this thread.
    reference_ = new std::vector<Answer>;
    for (const Job& job : *jobs_) reference_->push_back(run(model, job));
    imgcls_model_free(model);
  }
  static void TearDownTestSuite() {
    delete jobs_;
    delete reference_;
  }
  void SetUp() override {
    for (std::size_t i = 0; i < jobs_->size(); ++i)
      ASSERT_GE((*reference_)[i].label, 0) << (*jobs_)[i].name;
  }

  // Runs kThreads threads at once, thread t on models[t % models.size()], and expects every
  // answer to equal the single-threaded one (the first few differences are reported) and
  // the calls to have overlapped.
  static void run_concurrently(const std::vector<imgcls_model*>& models) {
    std::latch start(kThreads);
    std::atomic<int> in_flight{0}, most_in_flight{0};
    std::array<std::vector<std::string>, kThreads> mismatches;
    std::array<int, kThreads> calls{};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        const std::vector<std::size_t> mix = mix_for(t, jobs_->size());
        imgcls_model* model = models[std::size_t(t) % models.size()];
        start.arrive_and_wait();
        for (std::size_t i : mix) {
          const int now = ++in_flight;
          int seen = most_in_flight.load();
          while (now > seen && !most_in_flight.compare_exchange_weak(seen, now)) {
          }
          const Answer answer = run(model, (*jobs_)[i]);
          --in_flight;
          ++calls[t];
          if (!(answer == (*reference_)[i]))
            mismatches[t].push_back((*jobs_)[i].name + ": label " + std::to_string(answer.label) +
                                    " (single-threaded " + std::to_string((*reference_)[i].label) +
                                    ")" + (answer.label < 0 ? ", " + last_error() : ""));
        }
      });
    for (auto& thread : threads) thread.join();
    int total_mismatches = 0, total_calls = 0;
    for (int t = 0; t < kThreads; ++t) {
      total_calls += calls[t];
      total_mismatches += int(mismatches[t].size());
      for (std::size_t k = 0; k < std::min<std::size_t>(mismatches[t].size(), 3); ++k)
        ADD_FAILURE() << "thread " << t << ": " << mismatches[t][k];
    }
    std::cout << "  measured " << models.size() << " model(s), " << kThreads
              << " threads: " << total_calls << " calls, " << total_mismatches
              << " differ from the single-threaded answers, up to " << most_in_flight.load()
              << " calls in flight at once\n";
    EXPECT_EQ(total_calls, kThreads * kCallsPerThread);
    EXPECT_EQ(total_mismatches, 0);
    // The threads did overlap: otherwise this test would show nothing.
    EXPECT_GE(most_in_flight.load(), 2);
  }

  static std::vector<Job>* jobs_;
  static std::vector<Answer>* reference_;
};

std::vector<Job>* CApiThreads::jobs_ = nullptr;
std::vector<Answer>* CApiThreads::reference_ = nullptr;

TEST_F(CApiThreads, OneModelSharedByEightThreadsAnswersAsOneThreadDoes) {
  imgcls_model* model = imgcls_model_load(kModel.c_str());
  ASSERT_NE(model, nullptr) << last_error();
  run_concurrently({model});
  imgcls_model_free(model);
}

TEST_F(CApiThreads, TwoModelsUsedAtOnceAnswerAsOneThreadDoes) {
  imgcls_model* first = imgcls_model_load(kModel.c_str());
  imgcls_model* second = imgcls_model_load(kModel.c_str());
  ASSERT_NE(first, nullptr) << last_error();
  ASSERT_NE(second, nullptr) << last_error();
  run_concurrently({first, second});
  imgcls_model_free(first);
  imgcls_model_free(second);
}

// In each round, half the threads fail (by turns: a missing file named after the thread and
// round, or a capacity equal to the thread's number) while the others succeed; all wait at a
// barrier, so every call of the round has happened before any thread reads its last error.
TEST_F(CApiThreads, LastErrorIsPerThread) {
  constexpr int kRounds = 40;
  imgcls_model* model = imgcls_model_load(kModel.c_str());
  ASSERT_NE(model, nullptr) << last_error();
  const Job& good = jobs_->front();
  std::barrier calls_done(kThreads);
  std::array<std::vector<std::string>, kThreads> problems;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const bool fails = (t + round) % 2 == 0;
        const bool missing_file = round % 4 < 2;
        const std::string path = "/nonexistent/imgcls/thread-" + std::to_string(t) + "-round-" +
                                 std::to_string(round) + ".png";
        std::array<float, kClasses> out{};
        int status = 0;
        std::string expected;
        if (!fails) {
          status = run(model, good).label;
        } else if (missing_file) {
          status = imgcls_predict_file(model, path.c_str(), out.data(), out.size());
          expected = path;
        } else {
          status =
              imgcls_predict(model, good.pixels.data(), kSide, kSide, out.data(), std::size_t(t));
          expected = "capacity " + std::to_string(t) + " is less than the model's 10 classes";
        }
        calls_done.arrive_and_wait();  // every thread has made this round's call
        const std::string message = last_error();
        const std::string where = "round " + std::to_string(round) + ": ";
        if (!fails && (status < 0 || !message.empty()))
          problems[t].push_back(where + "succeeded with status " + std::to_string(status) +
                                " but reads \"" + message + "\"");
        if (fails && (status >= 0 || message.find(expected) == std::string::npos))
          problems[t].push_back(where + "failed with status " + std::to_string(status) +
                                ", expected \"" + expected + "\" but reads \"" + message + "\"");
        calls_done.arrive_and_wait();  // every thread has read its message
      }
    });
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(problems[t].empty())
        << "thread " << t << ": " << problems[t].size()
        << " problems, first: " << (problems[t].empty() ? "" : problems[t].front());
  }
  imgcls_model_free(model);
}

}  // namespace
