// The agent façade: Start() wires the components, Stop() unwinds them in
// reverse. No profiling logic lives here; each piece is in its own folder.

#include "inprof/agent.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "agent/base/inherited_sockets.h"
#include "agent/base/prometheus_text.h"
#include "agent/capture/capture_store.h"
#include "agent/contention/contention_metrics.h"
#include "agent/contention/contention_profiler.h"
#include "agent/cpu/cpu_metrics.h"
#include "agent/cpu/cpu_sampler.h"
#include "agent/flight/autocapture_settings.h"
#include "agent/flight/flight_recorder.h"
#include "agent/flight/request_latency.h"
#include "agent/heap/allocator_stats.h"
#include "agent/heap/heap_metrics.h"
#include "agent/heap/heap_sampler.h"
#include "agent/heap/tcmalloc_api.h"
#include "agent/http/debug_handlers.h"
#include "agent/http/pprof_backend.h"
#include "agent/http/pprof_handlers.h"
#include "agent/http/request_stats.h"
#include "agent/http/server.h"
#include "agent/labels/label_metrics.h"
#include "agent/pool/pool_report.h"
#include "agent/sources/contention_source.h"
#include "agent/sources/cpu_source.h"
#include "agent/sources/heap_source.h"
#include "agent/sources/registry.h"
#include "agent/sources/shared_symbolizer.h"
#include "agent/sources/thread_source.h"
#include "agent/symbolize/idle_release.h"
#include "agent/symbolize/symbolizer_metrics.h"
#include "agent/threads/thread_dumper.h"
#include "agent/unwind/stack_walker.h"

namespace inprof {

using internal::CpuSampler;
using internal::CpuSamplerOptions;
using internal::HttpServer;
using internal::HttpServerOptions;

namespace {

// Only one agent may own the signal handler and the port at a time.
std::atomic<bool> g_agent_running{false};
// The process that started the running agent: a forked child sees its
// parent's pid here.
std::atomic<pid_t> g_agent_owner{0};
// The running agent's listening socket, closed in every forked child at
// once: a child has no thread to serve it, and a child that outlives its
// parent must not hold the port. Closed only if the number is still the
// socket: the program may have closed it and reused it (owned_fd.h).
// (g_listener is written before g_listener_fd is published.)
internal::FdIdentity g_listener;
std::atomic<int> g_listener_fd{-1};

void CloseListenerInChild() {
  const int fd = g_listener_fd.exchange(-1);
  // Our copy; the parent's socket is untouched.
  if (fd >= 0 && g_listener.Matches(fd)) close(fd);
}

// The auto-capture settings Options ask for, validated as a POST's are.
StatusOr<internal::AutoCaptureSettings> AutoCaptureSettingsOf(
    const Options& options) {
  char per_second[32];
  std::snprintf(per_second, sizeof(per_second), "%g",
                options.autocapture_captures_per_second);
  return internal::AutoCaptureSettingsFrom(
      options.autocapture_threshold_ms,
      options.autocapture_endpoint_threshold_ms,
      {{"max_captures", std::to_string(options.autocapture_max_captures)},
       {"max_bytes", std::to_string(options.autocapture_max_bytes)},
       {"captures_per_second", per_second},
       {"hang_multiple", std::to_string(options.autocapture_hang_multiple)},
       {"process_profile_ms",
        std::to_string(options.autocapture_process_profile_ms)}});
}

Status ValidateOptions(const Options& options) {
  if (!options.env_error.empty())
    return InvalidArgumentError(options.env_error);
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgumentError("port=" + std::to_string(options.port) +
                                ": must be in 0..65535");
  }
  if (options.hz < 1 || options.hz > 1000) {
    return InvalidArgumentError("hz=" + std::to_string(options.hz) +
                                ": must be in 1..1000");
  }
  if (options.max_profile_seconds < 1) {
    return InvalidArgumentError(
        "max_profile_seconds=" + std::to_string(options.max_profile_seconds) +
        ": must be at least 1");
  }
  if (options.max_stack_depth < 1 ||
      options.max_stack_depth > internal::kMaxStackDepth) {
    return InvalidArgumentError(
        "max_stack_depth=" + std::to_string(options.max_stack_depth) +
        ": must be in 1..128");
  }
  if (options.host.empty()) return InvalidArgumentError("host is empty");
  Status heap_rate = internal::ValidateHeapSampleRate(options.heap_sample_rate);
  if (!heap_rate.ok()) return heap_rate;
  Status block = internal::ValidateBlockRate(options.block_profile_rate);
  if (!block.ok()) return block;
  Status autocapture = AutoCaptureSettingsOf(options).status();
  if (!autocapture.ok()) return autocapture;
  return internal::ValidateMutexFraction(options.mutex_profile_fraction);
}

}  // namespace

// Agent::Impl
//
// Ownership: owns the sampler and the HTTP server; HTTP handlers borrow
// `this` and are stopped (server_->Stop()) before the rest is destroyed.
// Thread safety: thread-safe; Stop() from the owner's thread.
class Agent::Impl {
 public:
  explicit Impl(const Options& options) : options_(options) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  int port() const { return server_ ? server_->port() : 0; }
  pid_t owner() const { return owner_; }
  Status SetHeapSampleRate(int64_t bytes);
  internal::ContentionProfiler& contention() { return *contention_; }
  const Options& options() const { return options_; }

 private:
  void RegisterSources();
  // Profile `name` for an HTTP request whose client may leave: as served
  // (Collect) or in memory for the UI (Build).
  StatusOr<std::string> Collect(std::string_view name, int seconds, int debug,
                                const std::function<bool()>& client_gone);
  StatusOr<internal::Profile> Build(std::string_view name, int seconds,
                                    const std::function<bool()>& client_gone);
  internal::ProfileRequest RequestFor(int seconds, int debug,
                                      const std::function<bool()>& client_gone);
  void StartHeapSampler();
  std::string RenderMetrics();

  // In a forked child, instead of Stop()'s joins (agent.cc says why).
  void AbandonAfterFork();

  const Options options_;
  const pid_t owner_ = getpid();
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  // Shared by every sampler; destroyed after them.
  std::unique_ptr<internal::StackWalker> walker_;
  std::unique_ptr<CpuSampler> sampler_;
  // Null when the process does not run on tcmalloc.
  const internal::TcmallocApi* tcmalloc_ = nullptr;  // null on glibc malloc
  // Null when heap samples cannot be taken; heap_unavailable_ says why
  // (served with 501).
  std::unique_ptr<internal::HeapSampler> heap_sampler_;
  std::string heap_unavailable_;
  std::unique_ptr<internal::ContentionProfiler> contention_;
  internal::RequestStats request_stats_;
  // Profiles kept for the UI (its Capture button), and next for slow
  // requests; outlives the server, which refers to it.
  internal::CaptureStore captures_;
  std::mutex autocapture_mu_;  // serializes changes of auto-capture
  std::unique_ptr<HttpServer> server_;

  internal::SharedSymbolizer symbolizer_{&stopping_};
  // Gives the symbolizer's memory back after a while without profiles.
  std::unique_ptr<internal::IdleReleaser> symbolizer_idle_;
  // /debug/pprof/goroutine's thread dumps; borrows walker_.
  std::unique_ptr<internal::ThreadDumper> threads_;
  // The profiles served by name; they borrow the samplers above and are
  // called only while the server runs.
  internal::ProfileRegistry sources_;
  // Slow requests' captures; borrows sampler_, symbolizer_ and captures_.
  std::unique_ptr<internal::FlightRecorder> flight_;
};

Status Agent::Impl::Start() {
  StatusOr<internal::AutoCaptureSettings> autocapture =
      AutoCaptureSettingsOf(options_);
  if (!autocapture.ok()) return autocapture.status();
  internal::RequestLatency::Global().Configure(*autocapture);

  StatusOr<std::unique_ptr<internal::StackWalker>> walker =
      internal::StackWalker::Start();
  if (!walker.ok()) return walker.status();
  walker_ = std::move(*walker);

  CpuSamplerOptions sampler_options;
  sampler_options.signo = options_.cpu_signal;
  sampler_options.hz = options_.hz;
  sampler_options.max_depth = options_.max_stack_depth;
  StatusOr<std::unique_ptr<CpuSampler>> sampler =
      CpuSampler::Start(sampler_options, walker_.get());
  if (!sampler.ok()) return sampler.status();
  sampler_ = std::move(*sampler);
  StartHeapSampler();
  StatusOr<std::unique_ptr<internal::ContentionProfiler>> contention =
      internal::ContentionProfiler::Start(walker_.get(),
                                          options_.block_profile_rate,
                                          options_.mutex_profile_fraction);
  if (!contention.ok()) return contention.status();
  contention_ = std::move(*contention);

  flight_ = std::make_unique<internal::FlightRecorder>(
      sampler_.get(), &symbolizer_, &captures_);
  flight_->Configure(*autocapture);
  symbolizer_idle_ = std::make_unique<internal::IdleReleaser>(
      internal::kSymbolizerIdleCheckPeriod, [this] {
        // While auto-capture is on the symbolizer stays warm: the next slow
        // request's capture must not pay for a cold start.
        if (flight_->enabled()) return;
        if (symbolizer_.ReleaseIfIdle(
                std::chrono::nanoseconds(internal::kSymbolizerIdleTimeout)
                    .count()) &&
            tcmalloc_ != nullptr) {
          // What the symbolizer freed would stay resident in tcmalloc's
          // page heap: give back about as much, no more (the rest of the
          // free memory is the host's business). glibc's malloc_trim would
          // walk the host's whole heap; it is not called.
          tcmalloc_->release_to_system(internal::kSymbolizerReleaseBytes);
        }
      });

  internal::PprofBackend backend;
  RegisterSources();
  backend.cpu_profile = [this](int seconds,
                               const std::function<bool()>& client_gone) {
    return Collect("cpu", seconds, 0, client_gone);
  };
  backend.named_profile =
      [this](const internal::PprofBackend::NamedProfileRequest& request) {
        if (request.name == "cpu") {
          return StatusOr<std::string>(
              NotFoundError("unknown profile: " + request.name));
        }
        return Collect(request.name, request.seconds, request.debug,
                       request.client_gone);
      };
  backend.profile = [this](const std::string& name, int seconds,
                           const std::function<bool()>& client_gone) {
    return Build(name, seconds, client_gone);
  };
  backend.heap_rate = [this]() -> StatusOr<int64_t> {
    if (!heap_sampler_) return UnimplementedError(heap_unavailable_);
    return heap_sampler_->rate();
  };
  backend.set_heap_rate = [this](int64_t bytes) -> StatusOr<int64_t> {
    if (!heap_sampler_) return UnimplementedError(heap_unavailable_);
    int64_t previous = heap_sampler_->rate();
    Status status = heap_sampler_->set_rate(bytes);
    if (!status.ok()) return status;
    return previous;
  };
  backend.contention_rates =
      [this]() -> StatusOr<internal::PprofBackend::ContentionRates> {
    return internal::PprofBackend::ContentionRates{
        contention_->block_rate(), contention_->mutex_fraction()};
  };
  backend.set_contention_rates = [this](std::optional<int64_t> block_nanos,
                                        std::optional<int64_t> fraction)
      -> StatusOr<internal::PprofBackend::ContentionRates> {
    internal::PprofBackend::ContentionRates previous{
        contention_->block_rate(), contention_->mutex_fraction()};
    // Both are checked before either changes: a bad request changes nothing.
    if (block_nanos) {
      Status valid = internal::ValidateBlockRate(*block_nanos);
      if (!valid.ok()) return valid;
    }
    if (fraction) {
      Status valid = internal::ValidateMutexFraction(*fraction);
      if (!valid.ok()) return valid;
    }
    if (block_nanos) (void)contention_->set_block_rate(*block_nanos);
    if (fraction) (void)contention_->set_mutex_fraction(*fraction);
    return previous;
  };
  backend.allocator_json = [this] {
    return internal::AllocatorStatsJson(
        internal::ReadAllocatorStats(tcmalloc_));
  };
  backend.allocator_text = [this] {
    return internal::AllocatorReport(tcmalloc_);
  };
  backend.release_allocator_memory = [this] {
    return internal::ReleaseFreeMemory(tcmalloc_);
  };
  backend.pools_json = [] { return internal::PoolsJson(AllPoolStats()); };
  backend.pools_text = [] { return internal::PoolsText(AllPoolStats()); };
  backend.metrics = [this] { return RenderMetrics(); };
  backend.autocapture = [] {
    return internal::RequestLatency::Global().settings().ToJson();
  };
  backend.set_autocapture =
      [this](const std::vector<std::pair<std::string, std::string>>& params)
      -> StatusOr<std::string> {
    // One change at a time: each POST applies to the settings it read.
    std::lock_guard<std::mutex> lock(autocapture_mu_);
    internal::RequestLatency& latency = internal::RequestLatency::Global();
    StatusOr<internal::AutoCaptureSettings> next =
        internal::ApplyAutoCaptureParams(latency.settings(), params);
    if (!next.ok()) return next.status();
    latency.Configure(*next);
    flight_->Configure(*next);
    return next->ToJson();
  };
  backend.request_baselines.exists = [this](const std::string& endpoint) {
    return flight_->HasBaseline(endpoint);
  };
  backend.request_baselines.profile = [this](const std::string& endpoint) {
    return flight_->BaselineProfile(endpoint);
  };
  backend.symbol_name = [this](uint64_t address) {
    return symbolizer_.FunctionName(address);
  };
  HttpServerOptions http_options;
  http_options.host = options_.host;
  http_options.port = options_.port;
  http_options.max_connections = options_.max_connections;
  http_options.allowed_hosts = options_.allowed_hosts;
  http_options.token = options_.token;
  StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      http_options,
      [&](httplib::Server& s, const std::function<bool()>& server_stopping) {
        internal::PprofOptions pprof;
        pprof.max_profile_seconds = options_.max_profile_seconds;
        pprof.default_profile_seconds =
            std::min(30, options_.max_profile_seconds);
        pprof.stopping = [this, server_stopping] {
          return stopping_.load() || server_stopping();
        };
        pprof.request_stats = &request_stats_;
        pprof.captures = &captures_;
        internal::InstallPprofHandlers(s, backend, pprof);
        internal::InstallDebugHandlers(s, backend);
      });
  if (!server.ok()) {
    contention_.reset();    // unplugs the interposer's hooks
    heap_sampler_.reset();  // removes the allocation hooks
    sampler_.reset();       // restores the signal handler
    return server.status();
  }
  server_ = std::move(*server);
  port_ = server_->port();
  g_listener = server_->listen_identity();
  g_listener_fd.store(server_->listen_fd());
  return OkStatus();
}

void Agent::Impl::Stop() {
  stopping_.store(true);
  if (getpid() != owner_) {
    AbandonAfterFork();
    return;
  }
  g_listener_fd.store(-1);
  if (server_) server_->Stop();  // waits for handlers, which see stopping_
  internal::RequestLatency::Global().Configure({});  // stop timing requests
  symbolizer_idle_.reset();                          // reads flight_
  flight_.reset();
  server_.reset();
  contention_.reset();
  heap_sampler_.reset();
  sampler_.reset();
  threads_.reset();  // waits for dump handlers still on walker_
  walker_.reset();
}

// This process is a fork of the one that started the agent. fork() copied
// the agent's memory and descriptors but none of its threads (HTTP workers,
// collector, map refresher), so there is nothing to join: joining them
// crashes. The listening socket and the connections are shared with the
// parent: our copies are closed, never shut down (that would end the
// parent's endpoint). Hooks and the signal handler are removed; objects that
// own threads are leaked, as their threads' stacks already are.
void Agent::Impl::AbandonAfterFork() {
  if (server_) {
    internal::CloseSocketsOnPort(port_);
    (void)server_.release();
  }
  (void)flight_.release();           // its capture thread was not copied
  (void)symbolizer_idle_.release();  // nor its thread
  contention_.reset();
  heap_sampler_.reset();
  if (sampler_) {
    sampler_->AbandonAfterFork();
    (void)sampler_.release();
  }
  (void)threads_.release();  // its lock may be held by an uncopied thread
  (void)walker_.release();
}

void Agent::Impl::StartHeapSampler() {
  // tcmalloc, when it is the allocator, gives /debug/allocator its figures
  // and, without the malloc front, the hooks heap samples come from.
  std::string no_tcmalloc;
  tcmalloc_ = internal::TcmallocApi::Find(&no_tcmalloc);
  StatusOr<std::unique_ptr<internal::HeapSampler>> heap =
      internal::HeapSampler::Start(tcmalloc_, walker_.get(),
                                   options_.heap_sample_rate);
  if (!heap.ok()) {
    heap_unavailable_ =
        "heap profiling is not available: " + heap.status().message();
    return;
  }
  heap_sampler_ = std::move(*heap);
}

Status Agent::Impl::SetHeapSampleRate(int64_t bytes) {
  if (!heap_sampler_) return UnimplementedError(heap_unavailable_);
  return heap_sampler_->set_rate(bytes);
}

void Agent::Impl::RegisterSources() {
  using internal::ContentionKind;
  using internal::HeapProfileKind;
  sources_.Add(std::make_unique<internal::CpuProfileSource>(sampler_.get(),
                                                            &symbolizer_));
  for (HeapProfileKind kind :
       {HeapProfileKind::kHeap, HeapProfileKind::kAllocs}) {
    sources_.Add(std::make_unique<internal::HeapProfileSource>(
        kind, heap_sampler_.get(), heap_unavailable_, &symbolizer_));
  }
  for (ContentionKind kind : {ContentionKind::kMutex, ContentionKind::kBlock}) {
    sources_.Add(std::make_unique<internal::ContentionProfileSource>(
        kind, contention_.get(), &symbolizer_));
  }
  internal::ThreadDumperOptions dump_options;
  dump_options.avoid_signo = options_.cpu_signal;
  threads_ =
      std::make_unique<internal::ThreadDumper>(walker_.get(), dump_options);
  sources_.Add(std::make_unique<internal::ThreadProfileSource>(threads_.get(),
                                                               &symbolizer_));
}

internal::ProfileRequest Agent::Impl::RequestFor(
    int seconds, int debug, const std::function<bool()>& client_gone) {
  internal::ProfileRequest request;
  request.seconds = seconds;
  request.debug = debug;
  request.cancelled = [this, &client_gone] {
    return stopping_.load() || (client_gone && client_gone());
  };
  return request;
}

StatusOr<std::string> Agent::Impl::Collect(
    std::string_view name, int seconds, int debug,
    const std::function<bool()>& client_gone) {
  internal::ProfileSource* source = sources_.Find(name);
  if (source == nullptr) {
    return NotFoundError("unknown profile: " + std::string(name));
  }
  return source->Collect(RequestFor(seconds, debug, client_gone));
}

StatusOr<internal::Profile> Agent::Impl::Build(
    std::string_view name, int seconds,
    const std::function<bool()>& client_gone) {
  internal::ProfileSource* source = sources_.Find(name);
  if (source == nullptr) {
    return NotFoundError("unknown profile: " + std::string(name));
  }
  return source->Build(RequestFor(seconds, 0, client_gone));
}

// /metrics: each component writes its own families.
std::string Agent::Impl::RenderMetrics() {
  internal::PrometheusText text;
  internal::WriteAllocatorMetrics(internal::ReadAllocatorStats(tcmalloc_),
                                  text);
  internal::WriteCpuMetrics(sampler_->stats(), text);
  internal::WriteHeapMetrics(heap_sampler_.get(), text);
  internal::WriteContentionMetrics(*contention_, text);
  internal::WritePoolMetrics(AllPoolStats(), text);
  internal::WriteLabelMetrics(internal::LabelRegistry::Global(), text);
  internal::RequestLatency::Global().WriteMetrics(text);
  flight_->WriteMetrics(text);
  request_stats_.WriteMetrics(text);
  internal::WriteSymbolizerMetrics(symbolizer_.stats(), text);
  return std::move(text).Take();
}

StatusOr<Agent> Agent::Start(const Options& options) {
  Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  bool expected = false;
  if (!g_agent_running.compare_exchange_strong(expected, true)) {
    if (g_agent_owner.load() != getpid()) {
      return FailedPreconditionError(
          "this process is a fork of pid " +
          std::to_string(g_agent_owner.load()) +
          ", whose inprof agent it inherited: Stop() (or destroy) that agent "
          "in the child before starting one of its own");
    }
    return FailedPreconditionError(
        "an inprof agent is already running in this process");
  }
  static pthread_once_t at_fork_once = PTHREAD_ONCE_INIT;
  pthread_once(&at_fork_once,
               [] { pthread_atfork(nullptr, nullptr, CloseListenerInChild); });
  g_agent_owner.store(getpid());
  auto impl = std::make_unique<Impl>(options);
  Status started = impl->Start();
  if (!started.ok()) {
    impl.reset();
    g_agent_running.store(false);
    return started;
  }
  return Agent(std::move(impl));
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::Agent(Agent&&) noexcept = default;

Agent& Agent::operator=(Agent&& other) noexcept {
  if (this != &other) {
    Stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Agent::~Agent() { Stop(); }

void Agent::Stop() {
  if (!impl_) return;
  impl_.reset();
  g_agent_running.store(false);
}

int Agent::port() const { return impl_ ? impl_->port() : 0; }

Status Agent::SetHeapSampleRate(int64_t bytes) {
  if (!impl_) return FailedPreconditionError("the agent is stopped");
  return impl_->SetHeapSampleRate(bytes);
}

Status Agent::SetBlockProfileRate(int64_t nanos) {
  if (!impl_) return FailedPreconditionError("the agent is stopped");
  return impl_->contention().set_block_rate(nanos);
}

Status Agent::SetMutexProfileFraction(int64_t fraction) {
  if (!impl_) return FailedPreconditionError("the agent is stopped");
  return impl_->contention().set_mutex_fraction(fraction);
}

std::string Agent::url() const {
  if (!impl_) return "";
  const std::string& host = impl_->options().host;
  bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port());
}

}  // namespace inprof
