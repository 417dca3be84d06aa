// Command diffpair writes two CPU profiles and two heap profiles of the same
// program doing different work, with Go's own runtime/pprof, so that tests
// can diff real Go output with inprof-view and with go tool pprof
// (tests/e2e/viewer_pprof_agreement_test.cc).
//
// Usage: go run main.go OUT_DIR
// writes OUT_DIR/cpu_base.pb.gz, cpu_new.pb.gz, heap_base.pb.gz, heap_new.pb.gz
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"
)

var sink [][]byte

//go:noinline
func spin(d time.Duration) uint64 {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 20000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

//go:noinline
func parse(d time.Duration) uint64 { return spin(d) }

//go:noinline
func render(d time.Duration) uint64 { return spin(d) }

//go:noinline
func compress(d time.Duration) uint64 { return spin(d) }

// recurse calls itself n times, then spins: cum must count it once.
//
//go:noinline
func recurse(n int, d time.Duration) uint64 {
	if n == 0 {
		return spin(d)
	}
	return recurse(n-1, d) + 1
}

//go:noinline
func allocSmall(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, make([]byte, 512))
	}
}

//go:noinline
func allocLarge(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, make([]byte, 64<<10))
	}
}

func cpuProfile(path string, work func() uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	x := work()
	pprof.StopCPUProfile()
	fmt.Println("work result", x)
	return nil
}

func heapProfile(path string, work func()) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	work()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: diffpair OUT_DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	runtime.MemProfileRate = 4096
	ms := time.Millisecond
	steps := []error{
		cpuProfile(filepath.Join(dir, "cpu_base.pb.gz"), func() uint64 {
			return parse(400*ms) + render(300*ms) + recurse(5, 100*ms)
		}),
		cpuProfile(filepath.Join(dir, "cpu_new.pb.gz"), func() uint64 {
			return parse(150*ms) + render(350*ms) + compress(300*ms) +
				recurse(8, 200*ms)
		}),
		heapProfile(filepath.Join(dir, "heap_base.pb.gz"), func() {
			allocSmall(20000)
		}),
		heapProfile(filepath.Join(dir, "heap_new.pb.gz"), func() {
			allocLarge(200)
		}),
	}
	for _, err := range steps {
		if err != nil {
			fmt.Fprintln(os.Stderr, "diffpair:", err)
			os.Exit(1)
		}
	}
}
