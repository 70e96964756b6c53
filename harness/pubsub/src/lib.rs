//! The embedded Pub/Sub emulator and the harness's Pub/Sub consumer (PROTOCOL.md §6–§7).
//!
//! What will live here: `google.pubsub.v1` Publisher and Subscriber over gRPC and REST on one
//! listener (as Google's emulator serves them); topics, subscriptions, publish, unary and
//! streaming pull, acknowledgement deadlines, retry and dead-letter policies; push delivery with
//! an OIDC token minted by the identity crate's Google mock on every push; and one consumer
//! interface the runner uses to observe deliveries from this emulator or an external one.
