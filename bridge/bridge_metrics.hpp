// The bridge's Prometheus metrics (see deploy/README.md for what each means and what to watch).
// Counters are prometheus-cpp atomics: cheap on the hot path, safe from any thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string_view>

#include "protocol/frames.hpp"

namespace sparrow::bridge {

class BridgeMetrics {
 public:
  explicit BridgeMetrics(prometheus::Registry& registry);

 private:
  // Families first: the counters below are initialised from them.
  prometheus::Family<prometheus::Counter>& frames_in_;
  prometheus::Family<prometheus::Counter>& frames_out_;
  prometheus::Family<prometheus::Counter>& chats_;
  prometheus::Family<prometheus::Counter>& errors_;

 public:
  // Frames received on im/up, by type (chat, ack, sync, invalid).
  prometheus::Counter& frames_in_chat;
  prometheus::Counter& frames_in_ack;
  prometheus::Counter& frames_in_sync;
  prometheus::Counter& frames_in_invalid;
  // Frames published, by kind.
  prometheus::Counter& frames_out_sent;
  prometheus::Counter& frames_out_chat;
  prometheus::Counter& frames_out_copy;
  prometheus::Counter& frames_out_receipt;
  prometheus::Counter& frames_out_error;
  prometheus::Counter& frames_out_retransmit;
  // Outcomes.
  prometheus::Counter& chats_stored;
  prometheus::Counter& chats_duplicate;
  prometheus::Counter& receipts_stored;
  prometheus::Counter& store_failures;
  prometheus::Counter& ingress_dropped;
  prometheus::Counter& publish_failures;
  // Group commit.
  prometheus::Histogram& commit_seconds;
  prometheus::Histogram& batch_frames;
  // Gauges.
  prometheus::Gauge& pending_acks;
  prometheus::Gauge& waiting_chats;
  prometheus::Gauge& ingress_queue;
  prometheus::Gauge& online_devices;
  prometheus::Gauge& bridge_members;

  prometheus::Counter& Error(protocol::ErrorCode code);
  // Devices connected to one broker (by its id), as presence reports say.
  prometheus::Gauge& BrokerDevices(const std::string& broker_id);

 private:
  prometheus::Family<prometheus::Gauge>& broker_devices_;
};

}  // namespace sparrow::bridge
