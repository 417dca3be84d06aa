// The peer for BENCHMARKS.md "Contention": Go's own mutex and block
// profiling, on the same workload as contention_benchmark's "contended" mode
// (four goroutines, one sync.Mutex around ~50 ns, ~300 ns of private work),
// with GOMAXPROCS=2. ON slices set runtime.SetMutexProfileFraction(10) and
// runtime.SetBlockProfileRate(10000); OFF slices set both to 0. ABBA order,
// each ON slice paired with its neighbouring OFF slice, plus an A/A control.
//
//	go run tests/bench/go_contention/main.go [ROUNDS [SECONDS]]
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type workload struct {
	mu     sync.Mutex
	shared [8]uint64
	stop   atomic.Bool
	ops    atomic.Uint64
}

//go:noinline
func (w *workload) critical(seed *uint64) {
	w.mu.Lock()
	for i := 0; i < 16; i++ {
		*seed = *seed*6364136223846793005 + 1442695040888963407
		w.shared[i&7] += *seed >> 33
	}
	w.mu.Unlock()
}

func (w *workload) run(seed uint64) {
	var local uint64
	for !w.stop.Load() {
		w.critical(&seed)
		for i := 0; i < 100; i++ {
			local = local*31 + (seed >> (i & 31))
		}
		w.ops.Add(1)
	}
	if local == 42 {
		fmt.Print("")
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func main() {
	rounds, seconds := 10, 0.5
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		seconds, _ = strconv.ParseFloat(os.Args[2], 64)
	}
	runtime.GOMAXPROCS(2)
	w := &workload{}
	for t := 0; t < 4; t++ {
		go w.run(0x9E3779B97F4A7C15 * uint64(t+1))
	}
	slice := func(on bool) float64 {
		if on {
			runtime.SetMutexProfileFraction(10)
			runtime.SetBlockProfileRate(10000)
		} else {
			runtime.SetMutexProfileFraction(0)
			runtime.SetBlockProfileRate(0)
		}
		before := w.ops.Load()
		start := time.Now()
		time.Sleep(time.Duration(seconds * float64(time.Second)))
		return float64(w.ops.Load()-before) / time.Since(start).Seconds()
	}
	slice(false)
	var losses, controls []float64
	for r := 0; r < rounds; r++ {
		off1 := slice(false)
		on1 := slice(true)
		on2 := slice(true)
		off2 := slice(false)
		losses = append(losses, 100*(1-on1/off1), 100*(1-on2/off2))
		controls = append(controls, 100*(1-off2/off1))
		fmt.Printf("round %2d: OFF %.0f ops/s, ON %.0f, ON %.0f, OFF %.0f: loss %+.2f%% %+.2f%%, A/A %+.2f%%\n",
			r, off1, on1, on2, off2, losses[len(losses)-2], losses[len(losses)-1], controls[len(controls)-1])
	}
	w.stop.Store(true)
	fmt.Printf("median throughput loss with Go's contention profiling on: %+.2f%% (A/A control %+.2f%%), %d pairs\n",
		median(losses), median(controls), len(losses))
}
