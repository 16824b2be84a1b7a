//go:build race

package service

// raceSlowdown scales the waits for expected frames: under the race
// detector every instrumented step runs several times slower, the
// transpiled SQLite (modernc) most of all, and CI runs the race build with
// other test packages beside it. Measured: twenty concurrent starts on the
// in-process relay take 0.3 s without -race, up to 2.3 s with it on a quiet
// machine, and over 20 s with CI's load beside it.
const raceSlowdown = 4
