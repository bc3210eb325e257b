#include "bridge/bridge_metrics.hpp"

#include <string>

namespace sparrow::bridge {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

BridgeMetrics::BridgeMetrics(prometheus::Registry& registry)
    : frames_in_(CounterFamily(registry, "sparrow_bridge_frames_in_total",
                               "Frames received from devices, by type")),
      frames_out_(
          CounterFamily(registry, "sparrow_bridge_frames_out_total", "Frames published, by kind")),
      chats_(CounterFamily(registry, "sparrow_bridge_chats_total", "Chats by outcome")),
      errors_(CounterFamily(registry, "sparrow_bridge_errors_total",
                            "Error frames sent to devices, by code")),
      frames_in_chat(frames_in_.Add({{"type", "chat"}})),
      frames_in_ack(frames_in_.Add({{"type", "ack"}})),
      frames_in_sync(frames_in_.Add({{"type", "sync"}})),
      frames_in_invalid(frames_in_.Add({{"type", "invalid"}})),
      frames_out_sent(frames_out_.Add({{"kind", "sent"}})),
      frames_out_chat(frames_out_.Add({{"kind", "chat"}})),
      frames_out_copy(frames_out_.Add({{"kind", "sender_copy"}})),
      frames_out_receipt(frames_out_.Add({{"kind", "receipt"}})),
      frames_out_error(frames_out_.Add({{"kind", "error"}})),
      frames_out_retransmit(frames_out_.Add({{"kind", "retransmit"}})),
      chats_stored(chats_.Add({{"outcome", "stored"}})),
      chats_duplicate(chats_.Add({{"outcome", "repeat"}})),
      receipts_stored(CounterFamily(registry, "sparrow_bridge_receipts_stored_total",
                                    "DELIVERED/READ receipts stored")
                          .Add({})),
      store_failures(CounterFamily(registry, "sparrow_bridge_store_failures_total",
                                   "Group commits or reads that failed (no SENT issued)")
                         .Add({})),
      ingress_dropped(CounterFamily(registry, "sparrow_bridge_ingress_dropped_total",
                                    "Frames dropped because the ingress queue was full")
                          .Add({})),
      publish_failures(CounterFamily(registry, "sparrow_bridge_publish_failures_total",
                                     "Publishes refused by the transport (not connected)")
                           .Add({})),
      commit_seconds(
          prometheus::BuildHistogram()
              .Name("sparrow_bridge_commit_seconds")
              .Help("Store group commit latency")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001,
                                                               0.0025, 0.005, 0.01, 0.025, 0.05,
                                                               0.1, 0.25, 0.5, 1, 2.5})),
      batch_frames(prometheus::BuildHistogram()
                       .Name("sparrow_bridge_batch_frames")
                       .Help("Chats and receipts per group commit")
                       .Register(registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100,
                                                                        200, 500, 1000})),
      pending_acks(prometheus::BuildGauge()
                       .Name("sparrow_bridge_pending_acks")
                       .Help("Chats published and awaiting DELIVERED (retransmission candidates)")
                       .Register(registry)
                       .Add({})),
      waiting_chats(prometheus::BuildGauge()
                        .Name("sparrow_bridge_waiting_chats")
                        .Help("Chats waiting for a predecessor (reorder buffer)")
                        .Register(registry)
                        .Add({})),
      ingress_queue(prometheus::BuildGauge()
                        .Name("sparrow_bridge_ingress_queue")
                        .Help("Frames received and not yet processed")
                        .Register(registry)
                        .Add({})),
      online_devices(prometheus::BuildGauge()
                         .Name("sparrow_bridge_online_devices")
                         .Help("User devices connected, over every broker (presence reports)")
                         .Register(registry)
                         .Add({})),
      bridge_members(prometheus::BuildGauge()
                         .Name("sparrow_bridge_members")
                         .Help("Bridge instances sharing the devices (this one included)")
                         .Register(registry)
                         .Add({})),
      broker_devices_(prometheus::BuildGauge()
                          .Name("sparrow_bridge_broker_devices")
                          .Help("User devices connected to each broker (presence reports)")
                          .Register(registry)) {}

prometheus::Gauge& BridgeMetrics::BrokerDevices(const std::string& broker_id) {
  return broker_devices_.Add({{"broker", broker_id}});
}

prometheus::Counter& BridgeMetrics::Error(protocol::ErrorCode code) {
  return errors_.Add({{"code", std::string(protocol::ToString(code))}});
}

}  // namespace sparrow::bridge
