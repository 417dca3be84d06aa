// Command cpuprofile writes a CPU profile and a heap profile with Go's own
// runtime/pprof, so that tests can decode real Go output with inprof's
// decoder (tests/agent/profile/decode_go_runtime_test.cc).
//
// Usage: go run main.go CPU_OUT HEAP_OUT
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var sink [][]byte

// burn spins on integer arithmetic for about d, so that the CPU profile has
// samples in main.burn.
//
//go:noinline
func burn(d time.Duration) uint64 {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

// allocate keeps 16 MiB live, so that the heap profile has samples in
// main.allocate. Each P's next sample point was drawn at the default rate
// (512 KiB) before main lowered it, so a mere 1 MiB could go unsampled.
//
//go:noinline
func allocate() {
	for i := 0; i < 16000; i++ {
		sink = append(sink, make([]byte, 1024))
	}
}

func writeCPUProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	x := burn(time.Second)
	pprof.StopCPUProfile()
	fmt.Println("burn result", x)
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	allocate()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cpuprofile CPU_OUT HEAP_OUT")
		os.Exit(2)
	}
	runtime.MemProfileRate = 4096
	if err := writeCPUProfile(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		os.Exit(1)
	}
	if err := writeHeapProfile(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		os.Exit(1)
	}
}
