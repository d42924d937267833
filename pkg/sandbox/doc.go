// Package sandbox is an in-process emulator of Datadog's Org Connections API
// (v2), so orgsync can be tried, tested and demonstrated without a Datadog
// account. It is an independent implementation of the wire contract and
// deliberately does not import pkg/api: testing the client against it only
// means something if the two do not share code.
//
// # Fidelity
//
// The recordings in testdata/cassettes are the ground truth. Every recorded
// answer is reproduced byte for byte (key order, compact JSON, and the
// trailing newline that Datadog sends on some bodies and not on others);
// only ids, timestamps and the synthetic user differ. What was never
// recorded (401, 403, 429, rate-limit headers, current_user) follows the
// public documentation.
//
// # Use
//
// A [Server] is an [http.Handler]. `orgsync sandbox serve` runs it with
// [ListenAndServe]; the in-process `--sandbox FILE` mode hands
// [Server.Transport] to the API client, so no socket is opened and tests can
// run it inside testing/synctest. Orgs come from a [Fixture] (see
// [LoadFixture]) or from [Server.AddOrg]. With [Options].StatePath the
// connections survive restarts in a bbolt file that one process at a time
// holds, each write committed before it is answered; keys are never written
// to disk.
//
// # Faults
//
// [Faults] injects latency, 5xx answers and dropped connections with a
// seeded generator, so that retry code can be exercised reproducibly.
package sandbox
