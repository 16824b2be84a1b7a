// Package fleet holds the multi-node failure test (fleet_test.go): real
// signaling and relay processes on loopback sharing a PostgreSQL and a Redis
// of the test's own, clients spread across the nodes chatting continuously
// (some over data channels), while a node and a relay are killed with
// SIGKILL, Redis restarts and PostgreSQL restarts. It
// then checks the delivery promise message by message: every acked message
// stored once and delivered to every participant once, in seq order.
//
// scripts/fleet.sh starts the same layout by hand (README, "Running a
// fleet").
package fleet
