//go:build !race

package service

// raceSlowdown: see race_on_test.go.
const raceSlowdown = 1
